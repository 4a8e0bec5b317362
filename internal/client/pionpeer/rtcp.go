package pionpeer

import (
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// inbound is a remote track being read: what SendPLI needs to address a
// key-frame request to it.
type inbound struct {
	ssrc webrtc.SSRC
	pc   *webrtc.PeerConnection
}

// readSenderRTCP reads the RTCP that receivers send back for one of this
// participant's senders until the sender stops. Reading is what lets the
// interceptors (NACK responder, reports) see it; on top of that, a picture
// loss indication (RFC 4585 §6.3.1) or full intra request (RFC 5104
// §3.5.1) for the video makes the next frame a key frame, as a browser's
// encoder does.
func (p *Peer) readSenderRTCP(sender *webrtc.RTPSender, kind Kind) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		if kind != KindVideo || p.videoSrc == nil {
			continue
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
				p.videoSrc.requestKeyFrame()
			}
		}
	}
}

// PLIsReceived counts the key-frame requests (PLI or FIR) receivers sent
// for this participant's video, over every path.
func (p *Peer) PLIsReceived() uint64 { return p.plis.Load() }

// SendPLI asks remote for a key frame: it sends a picture loss indication
// (RFC 4585 §6.3.1) for the video received from remote, on the path it
// currently arrives by (in an SFU room the SFU forwards it to the
// publisher, throttled). It fails with ErrNoTrack before any video from
// remote arrived.
func (p *Peer) SendPLI(remote string) error {
	p.mu.Lock()
	path := PathNone
	if m := p.members[remote]; m != nil {
		path = m.path
	}
	in, ok := p.inbound[pathKey{remote, KindVideo, path}]
	if !ok {
		// No settled path yet: whichever track there is.
		for _, pa := range []Path{PathSFU, PathMesh} {
			if in, ok = p.inbound[pathKey{remote, KindVideo, pa}]; ok {
				break
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("pionpeer: PLI for %s: %w", remote, ErrNoTrack)
	}
	if err := in.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(in.ssrc)}}); err != nil {
		return fmt.Errorf("pionpeer: PLI for %s: %w", remote, err)
	}
	return nil
}
