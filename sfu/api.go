package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/pionlog"
)

// Payload types as Chromium numbers them, so an SDP reads the same in the
// browser's and the server's logs.
const (
	payloadTypeVP8  = 96
	payloadTypeOpus = 111

	clockRateVideo = 90000 // RFC 7741 §6.1: VP8's RTP clock is 90 kHz
	clockRateAudio = 48000 // RFC 7587 §4.1: Opus's RTP clock is always 48 kHz
)

// udpSocketBuffer is the kernel buffer asked for on the shared UDP socket
// (best effort: Linux caps it at net.core.[rw]mem_max). Every participant's
// media goes through this one socket, so a key-frame burst toward 50
// subscribers (≈100 packets each) must fit without the kernel dropping it.
const udpSocketBuffer = 4 << 20

// newMediaEngine registers exactly what Parley speaks: VP8 and Opus (the
// codecs of E2EE rooms, whose clear header bytes the SFU and depacketizers
// rely on), the audio-level header extension (active speaker) and the
// feedback the SFU acts on. Nothing else is offered, so browsers cannot pick
// a codec the SFU cannot inspect.
func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	videoFeedback := []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBNACK},                   // RFC 4585 §4.2: generic NACK
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"}, // RFC 4585 §6.3.1: picture loss
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},  // RFC 5104 §3.5.1: full intra request
	}
	codecs := []struct {
		params webrtc.RTPCodecParameters
		kind   webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: clockRateVideo, RTCPFeedback: videoFeedback,
			},
			PayloadType: payloadTypeVP8,
		}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: clockRateAudio, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: payloadTypeOpus,
		}, webrtc.RTPCodecTypeAudio},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, fmt.Errorf("sfu: register codec %s: %w", c.params.MimeType, err)
		}
	}
	// Header extension ids: pion numbers the extensions it offers in the
	// order they are registered, and a browser numbers its own; a SFU
	// offer that crosses the browser's (a new participant's tracks arriving
	// while the browser adds its own) must not give an id the browser
	// already uses another meaning, or Chromium refuses the description
	// ("BUNDLE group contains a codec collision for header extension").
	// So the SFU registers them in Chromium's order: 1 audio level
	// (RFC 6464: the sender's audio level, for the active speaker), 2
	// abs-send-time (accepted, never written), then 3 transport-cc, which
	// newInterceptors registers.
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
		{sdp.ABSSendTimeURI, webrtc.RTPCodecTypeAudio},
		{sdp.ABSSendTimeURI, webrtc.RTPCodecTypeVideo},
	} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("sfu: register header extension %s: %w", e.uri, err)
		}
	}
	return m, nil
}

// newInterceptors builds the RTCP machinery every PeerConnection gets,
// from pion/interceptor:
//
//   - the NACK generator toward publishers (RFC 4585 §6.2.1): the SFU asks
//     for what it lost on the publisher's link;
//   - RTCP sender and receiver reports (RFC 3550 §6.4) on both sides;
//   - TWCC feedback to publishers (the transport-cc header extension and
//     feedback are negotiated), which is what makes a browser's encoder
//     adapt its bitrate to the path to the SFU.
//
// NACKs from subscribers are answered by the SFU itself, from one shared
// packet cache per published track (cache.go), not by pion's responder:
// that one copies every packet into a send buffer per subscriber (≈1.5 KiB
// and 2 allocations per forwarded video packet per subscriber, ≈384 KiB per
// subscribed track for a 256-packet buffer), which is what the forwarding
// path must not do.
//
//   - with bandwidth adaptation on (the default), transport-wide sequence
//     numbers on every forwarded packet and gcc's send-side estimate from
//     the subscriber's transport-cc feedback (bwe.go), which the
//     allocator spends (alloc.go). Its cost per forwarded packet is in
//     docs/benchmarks.md.
//
// Left out on purpose: pion's stats interceptor (it clones every packet's
// header and allocates per packet, for GetStats, which Parley does not
// call).
func newInterceptors(m *webrtc.MediaEngine, est *estimators, log pionlog.Factory) (*interceptor.Registry, error) {
	reg := &interceptor.Registry{}
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: nack generator: %w", err)
	}
	reg.Add(generator)

	receiver, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: receiver reports: %w", err)
	}
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: sender reports: %w", err)
	}
	reg.Add(receiver)
	reg.Add(sender)

	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("sfu: twcc: %w", err)
	}
	if est != nil {
		if err := addBWEInterceptors(reg, est, log); err != nil {
			return nil, err
		}
	}
	if err := registerSimulcastExtensions(m); err != nil {
		return nil, err
	}
	return reg, nil
}

// chromiumRIDExtensionID is the id Chromium gives the RID header extension
// (after MID at 4 and its video extensions at 5–9), seen in Chromium 156's
// offers; the repaired RID follows at 11.
const chromiumRIDExtensionID = 10

// registerSimulcastExtensions registers the MID, RID and repaired-RID
// header extensions (RFC 8843 §15, RFC 8852) that tell pion which simulcast
// encoding an unannounced SSRC is. They must get Chromium's ids (4, 10,
// 11) in the SFU's own offers, for the reason newMediaEngine gives: a
// browser offer crossing an SFU offer that used 5 for RID would be refused
// ("BUNDLE group contains a codec collision for header extension id=5").
// pion hands out ids in registration order, so ids 5–9 are taken by
// placeholders of no media kind, which are never offered nor accepted.
func registerSimulcastExtensions(m *webrtc.MediaEngine) error {
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("sfu: register mid extension: %w", err)
	}
	for id := 5; id < chromiumRIDExtensionID; id++ {
		placeholder := webrtc.RTPHeaderExtensionCapability{URI: fmt.Sprintf("urn:parley:unused-extension-id:%d", id)}
		if err := m.RegisterHeaderExtension(placeholder, webrtc.RTPCodecTypeUnknown); err != nil {
			return fmt.Errorf("sfu: reserve extension id %d: %w", id, err)
		}
	}
	for _, uri := range []string{sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("sfu: register %s: %w", uri, err)
		}
	}
	return nil
}

// srtpProfiles is the SRTP protection-profile preference (RFC 5764 §4.1.2,
// RFC 7714 for GCM). AES-128-GCM first: it encrypts a 1200-byte packet in
// ≈0.5 µs against ≈3.3 µs for AES-CM + HMAC-SHA1 on this class of machine,
// and the SFU encrypts every packet once per subscriber. CM stays last so
// clients without GCM still connect.
func srtpProfiles() []dtls.SRTPProtectionProfile {
	return []dtls.SRTPProtectionProfile{
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	}
}

// listenUDP opens the one UDP socket every PeerConnection shares.
func listenUDP(cfg Config) (*net.UDPConn, error) {
	network, ip := "udp", net.IP(nil) // "" = every address, IPv4 and IPv6
	if cfg.ListenIP != "" {
		addr, err := netip.ParseAddr(cfg.ListenIP)
		if err != nil {
			return nil, fmt.Errorf("%w: listen IP %q: %v", ErrConfig, cfg.ListenIP, err)
		}
		ip = addr.AsSlice()
		if addr.Unmap().Is4() {
			network, ip = "udp4", addr.Unmap().AsSlice()
		}
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		return nil, fmt.Errorf("%w: UDP port %d", ErrConfig, cfg.UDPPort)
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("sfu: listen on %s: %w", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.UDPPort)), err)
	}
	_ = conn.SetReadBuffer(udpSocketBuffer)  // best effort, see udpSocketBuffer
	_ = conn.SetWriteBuffer(udpSocketBuffer) // best effort
	return conn, nil
}

// newSettingEngine holds the transport settings shared by every
// PeerConnection: one UDP port through the ICE mux, no mDNS (a server has
// nothing to hide and cannot resolve browsers' .local names: browsers reach
// it through the peer-reflexive candidates of their checks), GCM-first SRTP
// and the remote-address filter.
func newSettingEngine(cfg Config, mux ice.UDPMux, log *slog.Logger, st *counters) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.LoggerFactory = pionlog.Factory{Log: log, Levels: pionLevels}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetSRTPProtectionProfiles(srtpProfiles()...)
	// RFC 5764 §4.1.2: the DTLS server picks the SRTP profile, and pion's
	// server picks by its own preference. Answering as the DTLS server
	// (a=setup:passive; clients make the first offer) makes the SFU the one
	// that chooses GCM whenever the client offers it.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return se, fmt.Errorf("sfu: dtls role: %w", err)
	}
	se.SetDTLSServerHelloMessageHook(func(hello handshake.MessageServerHello) handshake.Message {
		for _, ext := range hello.Extensions {
			if u, ok := ext.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) > 0 {
				switch u.ProtectionProfiles[0] {
				case dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM:
					st.srtpGCM.Add(1)
				default:
					st.srtpOther.Add(1)
				}
			}
		}
		return &hello
	})
	se.SetRemoteIPFilter(remoteIPAllowed(cfg.Loopback))
	if len(cfg.PublicIPs) > 0 {
		for _, s := range cfg.PublicIPs {
			if _, err := netip.ParseAddr(s); err != nil {
				return se, fmt.Errorf("%w: public IP %q: %v", ErrConfig, s, err)
			}
		}
		// 1:1 NAT: advertise the public address instead of the private
		// one in the host candidate.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return se, fmt.Errorf("%w: public IPs: %v", ErrConfig, err)
		}
	}
	return se, nil
}

// remoteIPAllowed filters the candidates clients send before the SFU's ICE
// agent sends connectivity checks to them: a client must not be able to make
// the server probe its own loopback, link-local (cloud metadata at
// 169.254.169.254) or multicast addresses. Private ranges stay allowed:
// participants on the server's LAN are normal. Loopback is allowed only when
// the server runs with Config.Loopback (tests, local runs).
func remoteIPAllowed(loopback bool) func(net.IP) bool {
	return func(ip net.IP) bool {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		addr = addr.Unmap()
		switch {
		case addr.IsLoopback():
			return loopback
		case addr.IsUnspecified(), addr.IsMulticast(), addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(),
			addr.IsInterfaceLocalMulticast():
			return false
		}
		return true
	}
}
