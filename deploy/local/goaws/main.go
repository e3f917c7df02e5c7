// Command goaws runs the goaws SNS/SQS emulator (github.com/Admiral-Piett/goaws,
// pinned in go.mod) on a loopback address. goaws' own command always listens
// on 0.0.0.0; this one serves the same router on -host only.
//
// goaws keeps its topics, subscriptions and queues in maps that several
// handlers read without a lock, and concurrent map access is a fatal error in
// Go: parallel tests could crash it. So requests are served one at a time,
// except ReceiveMessage (it may long-poll; it locks the queues itself), and
// the lock is released while goaws calls an HTTP subscriber, so a subscriber
// may call back (e.g. visit SubscribeURL) while it is being notified.
package main

import (
	"flag"
	"net"
	"net/http"
	"os"
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

// serialized serves one request at a time (ReceiveMessage aside).
type serialized struct{ next http.Handler }

func (s serialized) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("Action") == "ReceiveMessage" {
		s.next.ServeHTTP(w, r)
		return
	}
	mu.Lock()
	defer mu.Unlock()
	s.next.ServeHTTP(w, r)
}

// unlocked releases mu for the duration of goaws' calls to HTTP subscribers,
// which goaws makes only from within a (locked) SNS request.
type unlocked struct{ next http.RoundTripper }

func (u unlocked) RoundTrip(req *http.Request) (*http.Response, error) {
	mu.Unlock()
	defer mu.Lock()
	return u.next.RoundTrip(req)
}
