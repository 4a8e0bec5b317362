package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Media sections are reused. Each forwarded track needs a send-only media
// section (m-line) in the subscriber's session, and an m-line, once in the
// SDP, stays there for the life of the connection (pion v4.2.20 never
// recycles stopped ones). Adding a fresh one per track would grow the SDP
// with every join and leave: after a few dozen people came and went, every
// renegotiation carries hundreds of dead sections and the offer outgrows
// the 64 KiB signaling limit.
//
// So a section whose track went away is kept and, once the client has
// answered the offer that took its track away, given to the next track of
// the same kind. The client sees the section stop and then start receiving
// again, which fires a fresh `track` event with the new stream id (W3C
// WebRTC §4.4.1.6, "process the addition of a remote track"); reusing it
// before that answer would change the stream id under a section that never
// stopped receiving, and browsers announce no track for that.
//
// Forwarded sections are sendrecv, not sendonly, for one reason: taking
// the track off a sendonly section makes it inactive, and pion (v4.2.20),
// as a client, stops a transceiver for good when an offer makes it
// inactive — its next track on that section would never be read. Off a
// sendrecv section the SFU's offer says recvonly, which every client keeps.
// Clients answer recvonly (they send nothing there; the browser client and
// pionpeer publish on sections they added themselves).
//
// retiring and free are guarded by negMu.

// retire stops forwarding on sender; its transceiver becomes reusable once
// the offer carrying the change is answered (slotsNegotiated).
func (ss *Session) retire(sender *webrtc.RTPSender, trackID string) {
	var tr *webrtc.RTPTransceiver
	for _, t := range ss.pc.GetTransceivers() {
		if t.Sender() == sender {
			tr = t
			break
		}
	}
	// Stops the sender: Unbind takes the track out of the fan-out now;
	// the offer tells the client.
	if err := ss.pc.RemoveTrack(sender); err != nil {
		ss.log.Debug("remove forwarded track", "track", trackID, "err", err)
		return
	}
	if tr != nil {
		ss.retiring = append(ss.retiring, tr)
	}
}

// slotsNegotiated makes the sections retired in the answered offer
// reusable.
func (ss *Session) slotsNegotiated() {
	ss.free = append(ss.free, ss.retiring...)
	ss.retiring = nil
}

// sendOn puts d on a free section of its kind, or on a new one.
func (ss *Session) sendOn(d *downTrack) (*webrtc.RTPTransceiver, error) {
	for i, tr := range ss.free {
		if tr.Kind() != d.Kind() || tr.Sender() != nil {
			continue
		}
		ss.free = append(ss.free[:i], ss.free[i+1:]...)
		sender, err := ss.srv.api.NewRTPSender(d, ss.pc.SCTP().Transport())
		if err != nil {
			return nil, fmt.Errorf("sender for %s: %w", d.ID(), err)
		}
		if err := tr.SetSender(sender, d); err != nil {
			_ = sender.Stop()
			return nil, fmt.Errorf("reuse section %s for %s: %w", tr.Mid(), d.ID(), err)
		}
		return tr, nil
	}
	return ss.pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
}
