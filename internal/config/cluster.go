package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
)

// Cluster configures several nodes as one service over NATS
// (docs/cluster.md). With Listen and NATSURL empty the node is alone, as
// before: no NATS, no port.
type Cluster struct {
	NodeName    string   `yaml:"node_name" help:"this node's name in the cluster: letters, digits, - or _ (default: the host name)"`
	Listen      string   `yaml:"listen" help:"HOST:PORT of the embedded NATS route listener the other nodes connect to; setting it turns clustering on"`
	Peers       []string `yaml:"peers" help:"route URLs of the other nodes, nats://HOST:PORT,… (list every other node; the first node of a new cluster may list none)"`
	NATSURL     string   `yaml:"nats_url" help:"URL of an external NATS cluster (with JetStream) to use instead of the embedded server, e.g. nats://nats.internal:4222"`
	Secret      string   `yaml:"secret" help:"shared secret that authenticates routes between nodes (the password of user parley on an external NATS)"`
	SecretFile  string   `yaml:"secret_file" help:"file holding cluster.secret (must not be readable by group or others)"`
	TLSCertFile string   `yaml:"tls_cert_file" help:"PEM certificate this node presents on routes (with tls_key_file and tls_ca_file: routes use mutual TLS)"`
	TLSKeyFile  string   `yaml:"tls_key_file" help:"PEM private key for cluster.tls_cert_file"`
	TLSCAFile   string   `yaml:"tls_ca_file" help:"PEM CA certificates that sign the other nodes' route certificates"`
}

// ClusterEnabled reports whether this node joins a cluster.
func (c Config) ClusterEnabled() bool { return c.Cluster.Listen != "" || c.Cluster.NATSURL != "" }

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validateCluster checks the cluster block; it returns one message per
// fault.
func (c Config) validateCluster() []string {
	cl := c.Cluster
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if cl.NodeName != "" && !nodeNameRE.MatchString(cl.NodeName) {
		add("cluster.node_name: %q must be 1 to 64 letters, digits, - or _ (it is part of NATS subjects)", cl.NodeName)
	}
	if cl.Listen != "" {
		if _, _, err := net.SplitHostPort(cl.Listen); err != nil {
			add("cluster.listen: %q is not HOST:PORT", cl.Listen)
		}
	}
	if cl.NATSURL != "" && (cl.Listen != "" || len(cl.Peers) > 0) {
		add("cluster.nats_url: use either an external NATS (nats_url) or the embedded one (listen, peers), not both")
	}
	if cl.NATSURL != "" {
		if u, err := url.Parse(cl.NATSURL); err != nil || u.Host == "" {
			add("cluster.nats_url: %q is not a URL like nats://HOST:4222", cl.NATSURL)
		}
	}
	if len(cl.Peers) > 0 && cl.Listen == "" {
		add("cluster.peers: set cluster.listen too (the peers connect back to it)")
	}
	for _, p := range cl.Peers {
		if u, err := url.Parse(p); err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "nats-route" && u.Scheme != "tls") {
			add("cluster.peers: %q is not a route URL like nats://10.0.0.2:7422", p)
		}
	}
	if c.ClusterEnabled() && c.TURNEnabled() && c.TURN.Secret == "" && c.TURN.SecretFile == "" {
		add("turn.secret: a cluster needs one TURN secret shared by every node (set turn.secret_file), or credentials minted on one node fail on the others")
	}
	n := 0
	for _, f := range []string{cl.TLSCertFile, cl.TLSKeyFile, cl.TLSCAFile} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		add("cluster.tls_*: cert_file, key_file and ca_file go together")
	}
	return errs
}
