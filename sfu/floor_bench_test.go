package sfu

import (
	"net"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// BenchmarkFloor is the physical floor of forwarding one packet on this
// machine: one SRTP encryption of a 1200-byte RTP payload with pion/srtp's
// context used directly (no interceptors, no track machinery), and one UDP
// send of the result on loopback. No SFU can forward a packet to a
// subscriber for less; docs/benchmarks.md compares the server's CPU per
// forwarded packet with it.
//
// The sub-benchmarks separate the two costs and show why AES-128-GCM
// matters (the profile Parley prefers) against AES-128-CM + HMAC-SHA1-80.
func BenchmarkFloor(b *testing.B) {
	for _, c := range []struct {
		name    string
		profile srtp.ProtectionProfile
		send    bool
		read    bool
	}{
		{"encrypt=gcm", srtp.ProtectionProfileAeadAes128Gcm, false, false},
		{"encrypt=cm-sha1", srtp.ProtectionProfileAes128CmHmacSha1_80, false, false},
		{"send", 0, true, false},
		{"encrypt=gcm+send", srtp.ProtectionProfileAeadAes128Gcm, true, false},
		{"encrypt=gcm+send+reader", srtp.ProtectionProfileAeadAes128Gcm, true, true},
	} {
		b.Run(c.name, func(b *testing.B) { benchFloor(b, c.profile, c.send, c.read) })
	}
}

// With read, a goroutine drains the receiving socket as a subscriber's
// would: the sender then also pays for waking it (ns/op is wall time, the
// reader runs on the other core).
func benchFloor(b *testing.B, profile srtp.ProtectionProfile, send, read bool) {
	var ctx *srtp.Context
	if profile != 0 {
		keyLen, err := profile.KeyLen()
		if err != nil {
			b.Fatal(err)
		}
		saltLen, err := profile.SaltLen()
		if err != nil {
			b.Fatal(err)
		}
		key, salt := make([]byte, keyLen), make([]byte, saltLen)
		for i := range key {
			key[i] = byte(i)
		}
		if ctx, err = srtp.CreateContext(key, salt, profile); err != nil {
			b.Fatal(err)
		}
	}
	// Without read, a receiver that never reads: the kernel drops what
	// overflows its buffer.
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	if read {
		done := make(chan struct{})
		defer func() { <-done }()
		defer rx.Close()
		go func() {
			defer close(done)
			buf := make([]byte, 1500)
			for {
				if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	hdr := rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x1234, Timestamp: 1}
	raw := make([]byte, 12+1200)
	payload := raw[12:]
	for i := range payload {
		payload[i] = byte(i)
	}
	out := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; b.Loop(); i++ {
		hdr.SequenceNumber = uint16(i)
		if _, err := hdr.MarshalTo(raw); err != nil {
			b.Fatal(err)
		}
		pkt := raw
		if ctx != nil {
			if pkt, err = ctx.EncryptRTP(out[:0], raw, &hdr); err != nil {
				b.Fatal(err)
			}
		}
		if send {
			if _, err := tx.WriteToUDPAddrPort(pkt, dst); err != nil {
				b.Fatal(err)
			}
		}
	}
}
