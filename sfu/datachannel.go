package sfu

import (
	"errors"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Data-channel forwarding. The rule, in full (docs/sfu.md):
//
//	A message a participant sends on any data channel of its SFU
//	connection labelled L is delivered, unchanged (same bytes, same
//	string/binary kind), on a channel labelled L of every other participant
//	in the room.
//
// The SFU never reads the payload (E2EE rooms seal it anyway). The channel it
// delivers on is the participant's own channel L if the participant opened
// one, otherwise one the SFU opens, with the options of the first channel L
// seen in the room (ordered, maxRetransmits, maxPacketLifeTime, protocol):
// clients must listen on their own channels and on those `ondatachannel`
// announces. Channels must be in-band (not `negotiated: true`).
//
// Back-pressure is per recipient and never delays the others: a recipient
// whose channel has more than maxDataBuffered bytes queued is behind. On an
// unreliable channel (maxRetransmits or maxPacketLifeTime set: pointer,
// reactions) the message is dropped for that recipient, as the network
// might have. On a reliable channel (chat, files) a silent gap would corrupt
// what the application reassembles, so the SFU closes that recipient's
// channel instead: the client sees `close`, and the next message reopens
// one; the application resynchronises.
//
// Addressed messages (docs/datachannels.md): on a label that starts with
// RoutedLabelPrefix ("parley/"), every message is binary and starts with a
// clear routing header — version, sender id, addressee id (empty: everyone)
// — followed by the payload the clients sealed. The SFU reads only that
// header (parseRoute): it drops a message whose sender is not the session
// that sent it (so nobody can speak for someone else) or whose header is
// malformed, delivers an addressed message to its addressee alone and the
// others to everyone else, as on any other label.

const (
	// maxDataLabels bounds the distinct labels per room: each costs an
	// SCTP stream on every participant's connection, so a client must not
	// make the SFU open unbounded channels on everybody.
	maxDataLabels = 16

	// maxLabelLen bounds a label (they are names like "chat", "file").
	maxLabelLen = 64

	// maxClientChannels bounds the channels one participant may open on
	// its SFU connection (each costs server memory and a reader).
	maxClientChannels = 2 * maxDataLabels

	// maxDataBuffered is the queued bytes above which a recipient is
	// behind: 1 MiB is ≈ 1 s of a file transfer at 8 Mbit/s, room for a
	// burst, and bounds what one slow recipient holds in server memory.
	maxDataBuffered = 1 << 20

	// maxDataPending and maxDataPendingBytes bound what waits for a
	// channel the SFU opened and that is not open yet (the recipient's
	// transport is still connecting).
	maxDataPending      = 64
	maxDataPendingBytes = 256 << 10

	// RoutedLabelPrefix marks the labels whose messages carry the routing
	// header (docs/datachannels.md). Other labels keep the plain rule.
	RoutedLabelPrefix = "parley/"

	// routeVersion is the envelope version the header layout belongs to.
	routeVersion = 1

	// maxRouteID bounds the sender and addressee ids in a header (peer ids
	// are short; one length byte could say 255).
	maxRouteID = 64
)

// Why parseRoute refuses a message (internal: such messages are dropped and
// counted, never answered).
var (
	errRouteText   = errors.New("sfu: text message on a routed data channel")
	errRouteHeader = errors.New("sfu: malformed routing header")
)

// outChannel is the channel the SFU uses to deliver label L to one
// participant. Guarded by the owning Session's dmu.
type outChannel struct {
	dc           *webrtc.DataChannel
	reliable     bool
	open         bool
	pending      []webrtc.DataChannelMessage
	pendingBytes int
}

// onDataChannel adopts a channel the participant opened: its messages are
// forwarded, and it carries the others' messages with the same label.
func (ss *Session) onDataChannel(dc *webrtc.DataChannel) {
	label := dc.Label()
	init := channelInit(dc)
	ss.dmu.Lock()
	defer ss.dmu.Unlock()
	ss.opened++
	if ss.opened > maxClientChannels || !validLabel(label) || !ss.room.noteLabel(label, init) {
		ss.log.Info("refusing data channel", "label", label)
		_ = dc.Close()
		return
	}
	dc.OnMessage(func(m webrtc.DataChannelMessage) { ss.room.forwardData(ss, label, m) })
	if ss.ctx.Err() != nil || ss.channels[label] != nil {
		return // an SFU-opened channel already serves this label
	}
	ss.adopt(label, dc, init)
}

// adopt makes dc the delivery channel for label. dmu held.
func (ss *Session) adopt(label string, dc *webrtc.DataChannel, init webrtc.DataChannelInit) {
	oc := &outChannel{dc: dc, reliable: init.MaxRetransmits == nil && init.MaxPacketLifeTime == nil}
	ss.channels[label] = oc
	dc.OnOpen(func() {
		ss.dmu.Lock()
		defer ss.dmu.Unlock()
		oc.open = true
		for _, m := range oc.pending {
			ss.sendData(label, oc, m)
		}
		oc.pending, oc.pendingBytes = nil, 0
	})
	dc.OnClose(func() {
		ss.dmu.Lock()
		defer ss.dmu.Unlock()
		if ss.channels[label] == oc {
			delete(ss.channels, label)
		}
		ss.srv.ctr.dataDropped.Add(uint64(len(oc.pending)))
		oc.pending = nil
	})
}

// forwardData delivers one message to its recipients.
func (r *room) forwardData(from *Session, label string, m webrtc.DataChannelMessage) {
	for _, to := range r.dataRecipients(from, label, m) {
		to.deliver(label, m)
	}
}

// dataRecipients is the routing rule: every other participant of the room,
// or, on a routed label (RoutedLabelPrefix), what the clear routing header
// says — never reading the sealed payload after it.
func (r *room) dataRecipients(from *Session, label string, m webrtc.DataChannelMessage) []*Session {
	to, routed := "", strings.HasPrefix(label, RoutedLabelPrefix)
	if routed {
		sender, addressee, err := parseRoute(m)
		if err != nil || sender != from.id || addressee == from.id {
			from.log.Debug("dropping data message", "label", label, "err", err, "sender", sender)
			r.srv.ctr.dataDropped.Add(1)
			return nil
		}
		to = addressee
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[from.id] != from {
		return nil
	}
	if to == "" {
		return r.others(from)
	}
	if ss := r.sessions[to]; ss != nil {
		return []*Session{ss}
	}
	r.srv.ctr.dataDropped.Add(1) // the addressee left
	return nil
}

// parseRoute reads the clear routing header of a message on a routed label:
//
//	u8 version (1) | u8 len | sender id | u8 len | addressee id ("": everyone) | sealed payload
//
// It reads nothing after the header.
func parseRoute(m webrtc.DataChannelMessage) (from, to string, err error) {
	b := m.Data
	if m.IsString {
		return "", "", errRouteText
	}
	if len(b) < 3 || b[0] != routeVersion {
		return "", "", errRouteHeader
	}
	n := int(b[1])
	if n == 0 || n > maxRouteID || len(b) < 2+n+1 {
		return "", "", errRouteHeader
	}
	from = string(b[2 : 2+n])
	b = b[2+n:]
	k := int(b[0])
	if k > maxRouteID || len(b) < 1+k {
		return "", "", errRouteHeader
	}
	return from, string(b[1 : 1+k]), nil
}

// noteLabel records label's options the first time the room sees it, and
// refuses a label beyond maxDataLabels.
func (r *room) noteLabel(label string, init webrtc.DataChannelInit) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.labels[label]; ok {
		return true
	}
	if len(r.labels) >= maxDataLabels {
		return false
	}
	r.labels[label] = init
	return true
}

func (r *room) labelInit(label string) (webrtc.DataChannelInit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	init, ok := r.labels[label]
	return init, ok
}

// deliver sends m to this participant on its channel for label, opening
// one if it has none. Never blocks on the network.
func (ss *Session) deliver(label string, m webrtc.DataChannelMessage) {
	ss.dmu.Lock()
	defer ss.dmu.Unlock()
	if ss.ctx.Err() != nil {
		return
	}
	oc := ss.channels[label]
	if oc == nil {
		init, ok := ss.room.labelInit(label)
		if !ok {
			return
		}
		dc, err := ss.pc.CreateDataChannel(label, copyInit(init))
		if err != nil {
			ss.log.Debug("open data channel", "label", label, "err", err)
			ss.srv.ctr.dataDropped.Add(1)
			return
		}
		dc.OnMessage(func(m webrtc.DataChannelMessage) { ss.room.forwardData(ss, label, m) })
		ss.adopt(label, dc, init)
		oc = ss.channels[label]
		ss.dataSFU = true
		ss.renegotiate() // a connection without a data section needs an offer
	}
	if !oc.open {
		if len(oc.pending) >= maxDataPending || oc.pendingBytes+len(m.Data) > maxDataPendingBytes {
			ss.srv.ctr.dataDropped.Add(1)
			return
		}
		oc.pending = append(oc.pending, m)
		oc.pendingBytes += len(m.Data)
		return
	}
	ss.sendData(label, oc, m)
}

// sendData applies the back-pressure rule and sends. dmu held.
func (ss *Session) sendData(label string, oc *outChannel, m webrtc.DataChannelMessage) {
	if oc.dc.BufferedAmount() > maxDataBuffered {
		ss.srv.ctr.dataDropped.Add(1)
		if oc.reliable {
			ss.log.Info("data channel behind; closing it", "label", label, "buffered", oc.dc.BufferedAmount())
			delete(ss.channels, label)
			_ = oc.dc.Close()
		}
		return
	}
	var err error
	if m.IsString {
		err = oc.dc.SendText(string(m.Data))
	} else {
		err = oc.dc.Send(m.Data)
	}
	if err != nil {
		ss.srv.ctr.dataDropped.Add(1)
		return
	}
	ss.srv.ctr.dataMsgs.Add(1)
}

// dataNeedsOffer reports whether the SFU opened a data channel on a
// connection whose descriptions have no data (application) section yet.
// negMu held.
func (ss *Session) dataNeedsOffer() bool {
	ss.dmu.Lock()
	sfuOpened := ss.dataSFU
	ss.dmu.Unlock()
	if !sfuOpened {
		return false
	}
	d := ss.pc.CurrentLocalDescription()
	return d == nil || !strings.Contains(d.SDP, "\nm=application ")
}

func validLabel(label string) bool {
	return len(label) <= maxLabelLen
}

// channelInit reads a channel's options (copies: pion returns pointers
// into the channel).
func channelInit(dc *webrtc.DataChannel) webrtc.DataChannelInit {
	ordered := dc.Ordered()
	init := webrtc.DataChannelInit{Ordered: &ordered}
	if p := dc.MaxPacketLifeTime(); p != nil {
		v := *p
		init.MaxPacketLifeTime = &v
	}
	if p := dc.MaxRetransmits(); p != nil {
		v := *p
		init.MaxRetransmits = &v
	}
	if p := dc.Protocol(); p != "" {
		init.Protocol = &p
	}
	return init
}

// copyInit gives pion its own copy of the room's options.
func copyInit(in webrtc.DataChannelInit) *webrtc.DataChannelInit {
	out := webrtc.DataChannelInit{}
	if in.Ordered != nil {
		v := *in.Ordered
		out.Ordered = &v
	}
	if in.MaxPacketLifeTime != nil {
		v := *in.MaxPacketLifeTime
		out.MaxPacketLifeTime = &v
	}
	if in.MaxRetransmits != nil {
		v := *in.MaxRetransmits
		out.MaxRetransmits = &v
	}
	if in.Protocol != nil {
		v := *in.Protocol
		out.Protocol = &v
	}
	return &out
}
