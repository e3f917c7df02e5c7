// Package faultproxy puts a network fault between weatherd and a peer in
// tests: a TCP proxy on loopback that forwards, black-holes (connections stay
// open and nothing answers, as on a dead route), or delays what it forwards.
//
// It is written here rather than taken from a library because the faults the
// tests need are these three, switched from the test's own goroutine, and a
// proxy server with its own control API would be more to run than to write.
package faultproxy

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialTimeout bounds the proxy's connection to the upstream.
const dialTimeout = 5 * time.Second

// Proxy forwards TCP connections from its loopback address to an upstream.
type Proxy struct {
	tb       testing.TB
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu       sync.Mutex
	holed    bool // new and open connections forward nothing
	latency  time.Duration
	links    map[*link]struct{}
	accepted int
	closed   bool
}

// link is one client connection and its upstream connection.
type link struct {
	client, upstream net.Conn
	holed            bool // black-holed at some point: closed on Restore
}

// Start listens on 127.0.0.1:0 and forwards to upstream ("host:port" or a
// URL such as "http://127.0.0.1:4569"). The proxy is closed when the test
// ends.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	addr := upstream
	if strings.Contains(upstream, "://") {
		u, err := url.Parse(upstream)
		if err != nil {
			tb.Fatalf("faultproxy: upstream %q: %v", upstream, err)
		}
		addr = u.Host
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		tb.Fatalf("faultproxy: upstream %q: want host:port or a URL with a port: %v", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{tb: tb, ln: ln, upstream: addr, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is "http://" + Addr, for endpoint settings.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Accepted is how many client connections the proxy has accepted, so a test
// can tell that traffic really went through it.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// BlackHole stops forwarding, in both directions, on open connections and on
// every connection accepted until Restore. Connections stay open: a client
// sees no error, only silence, until its own deadline.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holed = true
	for l := range p.links {
		l.holed = true
	}
}

// Restore forwards again. Connections that were black-holed lost bytes and
// cannot be resumed, so they are closed, as a peer's reset would; clients
// reconnect.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.holed = false
	var dead []*link
	for l := range p.links {
		if l.holed {
			dead = append(dead, l)
		}
	}
	p.mu.Unlock()
	for _, l := range dead {
		l.close()
	}
}

// SetLatency delays every chunk forwarded in either direction by d (0: none).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Reset closes every open connection, as a peer's reset would. New
// connections are forwarded (or black-holed) as before.
func (p *Proxy) Reset() {
	p.mu.Lock()
	var open []*link
	for l := range p.links {
		open = append(open, l)
	}
	p.mu.Unlock()
	for _, l := range open {
		l.close()
	}
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Reset()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.tb.Logf("faultproxy: accept: %v", err)
			}
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.upstream, dialTimeout)
	if err != nil {
		// As the upstream would: the client sees the connection close.
		client.Close()
		return
	}
	l := &link{client: client, upstream: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close()
		return
	}
	p.accepted++
	l.holed = p.holed
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pipe(l, up, client) }()
	go func() { defer both.Done(); p.pipe(l, client, up) }()
	both.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies from src to dst, dropping what arrives while the proxy is a
// black hole, and closes both connections when either side ends.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			holed, latency := p.holed || l.holed, p.latency
			p.mu.Unlock()
			if !holed {
				if latency > 0 {
					time.Sleep(latency)
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF, a reset, or the link was closed
		}
	}
}

func (l *link) close() {
	l.client.Close()
	l.upstream.Close()
}
