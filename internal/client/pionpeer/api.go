package pionpeer

import (
	"fmt"
	"net"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/pionlog"
)

// Payload types, as Chromium numbers them, so SDP from either side reads the
// same in logs.
const (
	payloadTypeVP8  = 96
	payloadTypeOpus = 111
)

// srtpProfiles is the SRTP protection-profile preference (RFC 5764 §4.1.2).
// AES-128-GCM first: on this class of machine it encrypts a 1200-byte packet
// in ≈0.5 µs against ≈3.3 µs for AES-CM + HMAC-SHA1 (NOTES "Costs"), and
// 128-bit keys are enough for media that lives for minutes. The CM profile
// stays last so peers without GCM still connect.
func srtpProfiles() []dtls.SRTPProtectionProfile {
	return []dtls.SRTPProtectionProfile{
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	}
}

// newAPI builds the pion API every PeerConnection of one participant shares:
// VP8 and Opus only, pion's default interceptors (NACK, RTCP reports, TWCC)
// as a browser would run, GCM-first SRTP, and — unless allowed otherwise —
// ICE restricted to IPv4 UDP on loopback.
//
// With a downlink cap, every connection gathers its host candidate on the
// capped socket (dl's ICE UDP mux), so the cap sees everything received.
//
// onSRTP is told the profile chosen in every DTLS handshake where this
// participant is the server (the side that chooses), so tests can check
// that GCM was negotiated.
func newAPI(cfg Config, onSRTP func(dtls.SRTPProtectionProfile), dl *downlink) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	videoFeedback := []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBGoogREMB},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
		{Type: webrtc.TypeRTCPFBNACK},
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
	}
	codecs := []struct {
		params webrtc.RTPCodecParameters
		typ    webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate, RTCPFeedback: videoFeedback},
			PayloadType:        payloadTypeVP8,
		}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: audioClockRate, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
			PayloadType:        payloadTypeOpus,
		}, webrtc.RTPCodecTypeAudio},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.params, c.typ); err != nil {
			return nil, fmt.Errorf("pionpeer: register %s: %w", c.params.MimeType, err)
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("pionpeer: register interceptors: %w", err)
	}
	if cfg.Simulcast {
		// MID and RID on every packet: how the SFU tells layers apart.
		if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
			return nil, fmt.Errorf("pionpeer: simulcast header extensions: %w", err)
		}
	}

	var se webrtc.SettingEngine
	se.LoggerFactory = pionlog.Factory{Log: cfg.Logger, Levels: pionLevels}
	se.SetSRTPProtectionProfiles(srtpProfiles()...)
	se.SetDTLSServerHelloMessageHook(func(hello handshake.MessageServerHello) handshake.Message {
		for _, ext := range hello.Extensions {
			if u, ok := ext.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) > 0 {
				onSRTP(u.ProtectionProfiles[0])
			}
		}
		return &hello
	})
	if !cfg.AllowNonLoopback {
		// NOTES "pion in tests": loopback candidates are off by
		// default, and mDNS would hide them behind .local names.
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if dl != nil {
		se.SetICEUDPMux(dl.mux)
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se),
	), nil
}
