package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterFlags: the cluster flags set their keys, and a node with
// listen and peers is a valid cluster member.
func TestClusterFlags(t *testing.T) {
	c, err := Load([]string{"--node-name", "node-a", "--cluster-listen", "127.0.0.1:7422",
		"--cluster-peers", "nats://127.0.0.1:7423, nats://127.0.0.1:7424", "--turn", "off"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.NodeName != "node-a" || c.Cluster.Listen != "127.0.0.1:7422" || len(c.Cluster.Peers) != 2 || !c.ClusterEnabled() {
		t.Fatalf("cluster = %+v", c.Cluster)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// The first node of a new cluster has no peers yet: it starts alone
	// and the others name it (docs/cluster.md "The first node").
	first := Default()
	first.TURN.Listen = "off"
	first.Cluster.Listen = "127.0.0.1:7422"
	if err := first.Validate(); err != nil || !first.ClusterEnabled() {
		t.Fatalf("a first node with cluster.listen and no peers: enabled %v, err %v", first.ClusterEnabled(), err)
	}
	if d := Default(); d.ClusterEnabled() {
		t.Fatal("the default configuration is a cluster; a lone node must need nothing")
	}
}

// TestClusterValidation: each mistake is named.
func TestClusterValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"bad name", func(c *Config) { c.Cluster.NodeName = "a.b" }, "cluster.node_name"},
		{"peers without listen", func(c *Config) { c.Cluster.Peers = []string{"nats://h:1"} }, "set cluster.listen too"},
		{"bad peer", func(c *Config) { c.Cluster.Listen = ":1"; c.Cluster.Peers = []string{"h:1"} }, "not a route URL"},
		{"both transports", func(c *Config) { c.Cluster.NATSURL = "nats://h:4222"; c.Cluster.Listen = ":1" }, "not both"},
		{"half tls", func(c *Config) { c.Cluster.NATSURL = "nats://h:4222"; c.Cluster.TLSCertFile = "x" }, "go together"},
		{"no shared turn secret", func(c *Config) { c.Cluster.NATSURL = "nats://h:4222"; c.TURN.Listen = ":3478" }, "turn.secret"},
	} {
		c := Default()
		c.TURN.Listen = "off"
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// TestClusterSecretFileMode: a route secret others may read is refused.
func TestClusterSecretFileMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cluster-secret")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Cluster.SecretFile = p
	if err := c.ResolveSecrets(); err == nil || !strings.Contains(err.Error(), "cluster.secret_file") {
		t.Fatalf("err = %v, want cluster.secret_file refused", err)
	}
	os.Chmod(p, 0o600)
	c = Default()
	c.Cluster.SecretFile = p
	if err := c.ResolveSecrets(); err != nil || c.Cluster.Secret != "s3cret" {
		t.Fatalf("err = %v, secret %q", err, c.Cluster.Secret)
	}
}
