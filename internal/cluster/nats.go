package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

// routeUser is the user name of route authentication; the secret is the
// password. localUser is the embedded server's only client.
const (
	routeUser = "parley"
	localUser = "parley-local"
)

// randomSecret is 128 random bits, the embedded server's client password.
func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serverStartTimeout bounds the embedded server's start (it opens one
// listener and, for JetStream, a temporary store directory).
const serverStartTimeout = 10 * time.Second

// transport is the node's NATS: the embedded server (nil with an external
// one) and the client connection.
type transport struct {
	ns       *natsserver.Server
	nc       *nats.Conn
	storeDir string
	replicas int // of the directory bucket
}

// connect starts the embedded server and connects to it in-process, or
// connects to the external NATS.
func connect(o Options, log *slog.Logger) (*transport, error) {
	if o.NATSURL != "" {
		return connectExternal(o, log)
	}
	dir, err := os.MkdirTemp("", "parley-nats-")
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream store: %w", err)
	}
	localPass := randomSecret()
	// The server keeps only a bcrypt hash (it warns about plain ones); the
	// password is random, so the lowest cost is as strong as any.
	hash, err := bcrypt.GenerateFromPassword([]byte(localPass), bcrypt.MinCost)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cluster: local password: %w", err)
	}
	sopts, err := serverOptions(o, dir, string(hash))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ns, err := natsserver.NewServer(sopts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cluster: nats server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log.With("part", "nats")}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(serverStartTimeout) {
		ns.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cluster: nats server did not start within %v (route listener %s)", serverStartTimeout, o.Listen)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(localUser, localPass), nats.Name("parley-"+o.Name), nats.MaxReconnects(-1))
	if err != nil {
		ns.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cluster: in-process connection: %w", err)
	}
	return &transport{ns: ns, nc: nc, storeDir: dir, replicas: min(3, 1+len(o.Peers))}, nil
}

// serverOptions are the embedded server's: a loopback client listener no
// one else can use (the node connects in-process), a route listener on
// o.Listen, JetStream streams in memory.
func serverOptions(o Options, dir, localHash string) (*natsserver.Options, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("cluster.listen %q: bad port", o.Listen)
	}
	sopts := &natsserver.Options{
		ServerName: o.Name,
		// The route listener starts only once the client listener is up
		// (nats-server waits for it), so there is one: on loopback, on a
		// random port, behind a random password only the in-process
		// connection knows.
		Host:      "127.0.0.1",
		Port:      natsserver.RANDOM_PORT,
		Username:  localUser,
		Password:  localHash,
		NoSigs:    true,
		JetStream: true,
		StoreDir:  dir,
		// JetStream clustering needs a cluster name; every Parley
		// cluster uses this one (a node only routes to its peers).
		Cluster: natsserver.ClusterOpts{Name: "parley", Host: host, Port: port},
	}
	if o.Secret != "" {
		sopts.Cluster.Username, sopts.Cluster.Password = routeUser, o.Secret
	}
	if o.TLS != nil {
		sopts.Cluster.TLSConfig = o.TLS
		sopts.Cluster.TLSTimeout = 2
	}
	for _, p := range o.Peers {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("cluster.peers: %q is not a URL like nats://HOST:PORT", p)
		}
		if o.Secret != "" {
			u.User = url.UserPassword(routeUser, o.Secret)
		}
		sopts.Routes = append(sopts.Routes, u)
	}
	if len(sopts.Routes) == 0 {
		// The first node of a cluster has no peers yet, but JetStream
		// clustering refuses to start without a configured route. A
		// route to itself is what a NATS cluster's shared config file
		// gives every server: the server sees its own id and drops it.
		// Later nodes name this one, and routes gossip the rest.
		sopts.Routes = []*url.URL{selfRoute(host, port, o.Secret)}
	}
	return sopts, nil
}

// selfRoute is the route URL of this node's own listener: loopback when it
// listens on every address.
func selfRoute(host string, port int, secret string) *url.URL {
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u := &url.URL{Scheme: "nats", Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if secret != "" {
		u.User = url.UserPassword(routeUser, secret)
	}
	return u
}

// connectExternal connects to an operator's NATS cluster.
func connectExternal(o Options, log *slog.Logger) (*transport, error) {
	opts := []nats.Option{nats.Name("parley-" + o.Name), nats.MaxReconnects(-1)}
	if o.Secret != "" {
		opts = append(opts, nats.UserInfo(routeUser, o.Secret))
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	nc, err := nats.Connect(o.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %s: %w", redact(o.NATSURL), err)
	}
	log.Info("connected to external nats", "url", redact(o.NATSURL))
	return &transport{nc: nc, replicas: 3}, nil
}

// redact removes a password from a URL for logs.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// close drains nothing: the node's own state is gone with it.
func (t *transport) close() {
	t.nc.Close()
	if t.ns != nil {
		t.ns.Shutdown()
		t.ns.WaitForShutdown()
		os.RemoveAll(t.storeDir)
	}
}

// natsLogger passes the embedded server's logs to slog. Its notices are
// debug lines (a start prints a screenful); its warnings and errors stay
// warnings and errors, so a refused route says why in the node's log.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if msg == waitingForRoutes {
		l.log.Debug(msg) // expected of a first node, alone until a peer routes to it
		return
	}
	l.log.Warn(msg)
}

// waitingForRoutes is what JetStream repeats (every two seconds) until the
// server's first route is up.
const waitingForRoutes = "Waiting for routing to be established..."

func (l natsLogger) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any) {}
