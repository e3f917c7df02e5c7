// Command goaws runs the goaws SNS/SQS emulator (github.com/Admiral-Piett/goaws,
// pinned in go.mod) on a loopback address. goaws' own command always listens
// on 0.0.0.0; this one serves the same router on -host only.
//
// goaws keeps its topics, subscriptions and queues in maps that several
// handlers read without a lock, and concurrent map access is a fatal error in
// Go: parallel tests could crash it (ReceiveMessage next to DeleteQueue did).
// So every request is served one at a time. ReceiveMessage is asked of goaws
// without waiting and long polling is done here, between tries, so no request
// holds the lock for long. The lock is released while goaws calls an HTTP
// subscriber, so a subscriber may call back (e.g. visit SubscribeURL) while it
// is being notified.
package main

import (
	"bytes"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Admiral-Piett/goaws/app"
	"github.com/Admiral-Piett/goaws/app/conf"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	log "github.com/sirupsen/logrus"
)

func main() {
	config := flag.String("config", "", "goaws YAML configuration file")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	debug := flag.Bool("debug", false, "debug log level")
	flag.Parse()

	log.SetFormatter(&log.JSONFormatter{})
	log.SetOutput(os.Stdout)
	log.SetLevel(log.InfoLevel)
	if *debug {
		log.SetLevel(log.DebugLevel)
	}

	env := "Local"
	if flag.NArg() > 0 {
		env = flag.Arg(0)
	}
	ports := conf.LoadYamlConfig(*config, env)
	if len(ports) != 1 {
		log.Fatalf("goaws: want exactly one Port in %s, got %v", *config, ports)
	}

	quit := make(chan struct{})
	go gosqs.PeriodicTasks(time.Second, quit)

	addr := net.JoinHostPort(*host, ports[0])
	log.Warnf("GoAws listening on: %s (region %s, account %s)", addr,
		app.CurrentEnvironment.Region, app.CurrentEnvironment.AccountID)
	http.DefaultClient.Transport = unlocked{next: http.DefaultTransport}
	http.DefaultClient.Timeout = 30 * time.Second
	srv := &http.Server{Addr: addr, Handler: serialized{next: router.New()}, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// mu is held by the request goaws is serving.
var mu sync.Mutex

// serialized serves one request at a time.
type serialized struct{ next http.Handler }

func (s serialized) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("Action") == "ReceiveMessage" {
		s.receive(w, r)
		return
	}
	mu.Lock()
	defer mu.Unlock()
	s.next.ServeHTTP(w, r)
}

// receive long-polls ReceiveMessage: it asks goaws without waiting, under the
// lock, until a message comes back or the client's WaitTimeSeconds is over.
func (s serialized) receive(w http.ResponseWriter, r *http.Request) {
	wait, _ := strconv.Atoi(r.FormValue("WaitTimeSeconds"))
	r.Form.Set("WaitTimeSeconds", "0")
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		rec := httptest.NewRecorder()
		mu.Lock()
		s.next.ServeHTTP(rec, r)
		mu.Unlock()
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte("<Message>")) ||
			!time.Now().Before(deadline) || r.Context().Err() != nil {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unlocked releases mu for the duration of goaws' calls to HTTP subscribers,
// which goaws makes only from within a (locked) SNS request.
type unlocked struct{ next http.RoundTripper }

func (u unlocked) RoundTrip(req *http.Request) (*http.Response, error) {
	mu.Unlock()
	defer mu.Lock()
	return u.next.RoundTrip(req)
}
