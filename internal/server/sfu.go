package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
)

// newSFU starts the media server rooms use in SFU mode. It binds its UDP
// port at once, so a port conflict stops the start with a clear error.
func newSFU(cfg config.Config, log *slog.Logger) (*sfu.Server, error) {
	srv, err := sfu.New(sfu.Config{
		UDPPort:   cfg.SFU.UDPPort,
		ListenIP:  cfg.SFU.ListenIP,
		PublicIPs: cfg.SFU.PublicIPs,
		Loopback:  cfg.SFU.Loopback,
		Logger:    log.With("part", "sfu"),

		NoBandwidthAdaptation: !cfg.SFU.BandwidthAdaptation,
		NoDynacast:            !cfg.SFU.Dynacast,
	})
	if err != nil {
		addr := net.JoinHostPort(cfg.SFU.ListenIP, strconv.Itoa(cfg.SFU.UDPPort))
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, explainListen(err, sfuListener, addr)
		}
		return nil, err // sfu.New's errors start with "sfu:"
	}
	return srv, nil
}

// sfuAdapter lets signaling use the SFU through its own small interface;
// signaling imports sfu for its sentinel errors only, sfu never imports
// signaling.
type sfuAdapter struct{ srv *sfu.Server }

func (a sfuAdapter) Attach(room, peerID string, send func(json.RawMessage), opts signaling.SFUOptions) (signaling.SFUSession, error) {
	ss, err := a.srv.Attach(room, peerID, send, sfu.AttachOptions{ReceiveOnly: opts.ReceiveOnly})
	if err != nil {
		return nil, err
	}
	return ss, nil
}
