package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/signaling"
)

// newCluster builds this node's cluster membership, or returns nil when no
// cluster is configured: a lone node starts no NATS and opens no port.
// hooks is nil but for tests (WithTestHooks).
func newCluster(cfg config.Config, log *slog.Logger, hooks *cluster.Hooks) (*cluster.Node, error) {
	if !cfg.ClusterEnabled() {
		return nil, nil
	}
	cl := cfg.Cluster
	tlsCfg, err := clusterTLS(cl)
	if err != nil {
		return nil, err
	}
	return cluster.New(cluster.Options{
		Name: cl.NodeName, Listen: cl.Listen, Peers: cl.Peers, NATSURL: cl.NATSURL,
		Secret: cl.Secret, TLS: tlsCfg, Logger: log.With("part", "cluster"), Hooks: hooks,
	}, nil)
}

// clusterTLS is mutual TLS for routes: this node's certificate, and the CA
// that must have signed every other node's.
func clusterTLS(cl config.Cluster) (*tls.Config, error) {
	if cl.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cl.TLSCertFile, cl.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.tls_cert_file: %w", err)
	}
	pem, err := os.ReadFile(cl.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.tls_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster.tls_ca_file: %s holds no PEM certificate", cl.TLSCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// Cluster returns this node's cluster membership, or nil when alone.
func (s *Server) Cluster() *cluster.Node { return s.cluster }

// clusterSeam is the hub's Cluster: nil (an interface holding no node)
// when alone.
func (s *Server) clusterSeam() signaling.Cluster {
	if s.cluster == nil {
		return nil
	}
	return s.cluster
}

// adminHub is what the admin API acts on: this hub alone, or every node's.
func (s *Server) adminHub() admin.Hub {
	if s.cluster == nil {
		return s.hub
	}
	return cluster.NewAdmin(s.cluster, s.hub)
}

// startCluster joins the cluster for the life of ctx; the node leaves
// (releasing its rooms) after the hub has shut down.
func (s *Server) startCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	s.cluster.SetHost(s.hub)
	s.cluster.LoadFunc = func() uint64 { return s.sfu.Stats().ForwardedPackets }
	if err := s.cluster.Start(ctx); err != nil {
		return err
	}
	s.metrics.Registry().MustRegister(s.cluster.Collector())
	return nil
}

// stopCluster leaves the cluster, releasing this node's rooms.
func (s *Server) stopCluster() {
	if s.cluster != nil {
		s.cluster.Close()
	}
}
