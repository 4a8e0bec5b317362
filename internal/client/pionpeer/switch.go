package pionpeer

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// The switch between mesh and SFU (docs/protocol.md "Modes and the
// switch"), make-before-break per remote participant. All of it runs on the
// event loop.

// switchTimeout is how long a remote may take to deliver over the new path
// before this side says so in its log; it then stays on the old path, as
// protocol.md has clients do ("If the new path does not connect within
// 10 s, the client stays on the old one").
const switchTimeout = 10 * time.Second

// meshRetry is how long this side waits for media over a link it offered
// after a switch back to mesh before it offers again from a fresh
// connection. It covers a link that toMesh kept because it still delivered,
// but whose other side closed it an instant later (the other side moved to
// the SFU just before it heard of the switch back), and links whose
// connection failed. Long, because a loaded machine can take seconds to
// connect, and an offer that replaces a slow one only makes it slower.
const meshRetry = 10 * time.Second

// meshFresh is how recent the last packet over an existing mesh link must
// be for a switch back to mesh to keep the link rather than replace it:
// at 15 fps plus 50 audio packets a second, a live link delivers many
// packets in this time; a link whose other side closed delivers none.
const meshFresh = time.Second

// setMode follows a `mode` message.
func (p *Peer) setMode(mode, policy string) {
	p.mu.Lock()
	prev := p.mode
	p.mode, p.policy = mode, policy
	if mode != prev {
		p.switchedAt = time.Now()
		for _, m := range p.members {
			m.warned, m.offeredAt = false, time.Time{}
		}
	}
	p.mu.Unlock()
	if mode == prev {
		return // only the policy changed
	}
	p.log.Debug("room switched", "from", prev, "to", mode, "policy", policy)
	switch mode {
	case modeSFU:
		p.toSFU()
	case modeMesh:
		p.toMesh()
	default:
		p.log.Warn("unknown room mode", "mode", mode)
	}
}

// toSFU opens the SFU path: publish there (opening the connection, or
// reopening the gate of one kept from an earlier SFU period), and keep the
// mesh links until reconcilePaths sees each remote's media over the SFU.
func (p *Peer) toSFU() {
	p.sfuPublish.Store(true)
	// The SFU's subscribers can only start decoding at a key frame, and
	// one may have been withheld while the gate was closed.
	p.RequestKeyFrame()
	p.openSFU()
}

// toMesh opens the mesh path: this side offers a link to every remote
// whose id sorts after its own and waits for the others' offers. A link
// left from before the switch is kept if it still delivers; otherwise it is
// replaced (its other side may have closed it), and the remote, seeing a
// new DTLS fingerprint, replaces its side too (link.handleDescription).
// Publishing on the SFU goes on until reconcilePaths sees every remote's
// media over the mesh.
func (p *Peer) toMesh() {
	now := time.Now()
	var offers []meshOffer
	p.mu.Lock()
	for id := range p.members {
		if id <= p.ID() {
			continue
		}
		l := p.links[id]
		if l != nil && p.freshMeshLocked(id, now) {
			continue
		}
		delete(p.links, id)
		offers = append(offers, meshOffer{id, l})
	}
	p.mu.Unlock()
	p.offerMesh(offers...)
}

// meshOffer is a mesh link to (re)open: remote, and the link it replaces.
type meshOffer struct {
	id  string
	old *link
}

// offerMesh closes each old link and opens a new one that offers.
func (p *Peer) offerMesh(offers ...meshOffer) {
	now := time.Now()
	for _, o := range offers {
		if o.old != nil {
			p.closeLinkAsync(o.old)
		}
		p.mu.Lock()
		if m := p.members[o.id]; m != nil {
			m.offeredAt = now
		}
		p.mu.Unlock()
		if l := p.openLink(o.id); l != nil {
			l.post(l.publish)
		}
	}
}

// retryMesh offers again to each remote in check whose link is dead (see
// meshRetry): gone, failed, disconnected, or still without an answer after
// 3 × meshRetry. A link that is connecting, or connected and about to
// deliver, is left alone: on a loaded machine both take seconds, and
// replacing them would start the wait over.
func (p *Peer) retryMesh(check []meshOffer, now time.Time) {
	var retry []meshOffer
	for _, o := range check {
		if o.old != nil {
			switch o.old.state() {
			case webrtc.PeerConnectionStateConnecting, webrtc.PeerConnectionStateConnected:
				continue
			case webrtc.PeerConnectionStateNew:
				p.mu.Lock()
				m := p.members[o.id]
				young := m == nil || now.Sub(m.offeredAt) < 3*meshRetry
				p.mu.Unlock()
				if young {
					continue
				}
			}
		}
		p.mu.Lock()
		if p.links[o.id] != o.old { // changed meanwhile (a remote offer)
			p.mu.Unlock()
			continue
		}
		delete(p.links, o.id)
		p.mu.Unlock()
		p.log.Info("the mesh link offered after the switch is dead; offering again", "remote", o.id)
		retry = append(retry, o)
	}
	p.offerMesh(retry...)
}

// freshMeshLocked reports whether remote's media arrived over the mesh
// within meshFresh of now. p.mu must be held.
func (p *Peer) freshMeshLocked(remote string, now time.Time) bool {
	for _, k := range []Kind{KindAudio, KindVideo} {
		if now.Sub(p.lastViaLocked(remote, k, PathMesh)) < meshFresh {
			return true
		}
	}
	return false
}

// reconcilePaths moves each remote to the path the room's mode calls for
// once that path delivers its media, and then breaks the old path: in SFU
// mode it closes the remote's mesh link; in mesh mode, once every remote
// is on the mesh, it stops publishing on the SFU.
func (p *Peer) reconcilePaths(now time.Time) {
	var closing []*link
	p.mu.Lock()
	want := PathMesh
	if p.mode == modeSFU {
		want = PathSFU
	}
	allThere := true
	sfuUp := p.sfu != nil && p.sfu.connected.Load()
	for id, m := range p.members {
		if m.path != want && p.deliveredLocked(id, m, want, sfuUp) {
			p.log.Debug("remote moved to the new path", "remote", id, "from", m.path, "to", want)
			m.path = want
		}
		if m.path != want {
			allThere = false
			if !m.warned && !p.switchedAt.IsZero() && now.Sub(p.switchedAt) > switchTimeout {
				m.warned = true
				p.log.Warn("no media over the new path; staying on the old one",
					"remote", id, "path", m.path, "want", want, "after", now.Sub(p.switchedAt).Round(time.Millisecond))
			}
		}
		if want == PathSFU && m.path == PathSFU {
			if l := p.links[id]; l != nil {
				delete(p.links, id)
				closing = append(closing, l)
			}
		}
	}
	var check []meshOffer
	if want == PathMesh {
		for id, m := range p.members {
			if id > p.ID() && m.path != PathMesh && !m.offeredAt.IsZero() &&
				now.Sub(m.offeredAt) > meshRetry && !p.freshMeshLocked(id, now) {
				check = append(check, meshOffer{id, p.links[id]})
			}
		}
	}
	stopSFU := want == PathMesh && allThere && p.sfuPublish.Load()
	p.mu.Unlock()
	p.retryMesh(check, now)
	if stopSFU {
		p.sfuPublish.Store(false)
		p.log.Debug("every remote is on the mesh: stopped publishing on the SFU")
	}
	for _, l := range closing {
		p.closeLinkAsync(l)
	}
}

// deliveredLocked reports whether remote m's media arrives over path since
// the last switch: every kind the remote's old path carried, or, for a
// remote new to this side, any kind. A remote that publishes nothing (its
// media state says neither mic nor camera) is there once the connection
// is: over the SFU, when this side's SFU connection is up; over the mesh,
// when the link to it is. p.mu must be held.
func (p *Peer) deliveredLocked(remote string, m *member, path Path, sfuUp bool) bool {
	if m.known && !m.media.Mic && !m.media.Cam {
		if path == PathSFU {
			return sfuUp
		}
		l := p.links[remote]
		return l != nil && l.connected.Load()
	}
	any := false
	for _, k := range []Kind{KindAudio, KindVideo} {
		fresh := p.lastViaLocked(remote, k, path).After(p.switchedAt)
		any = any || fresh
		if m.path != PathNone && !fresh && !p.lastViaLocked(remote, k, m.path).IsZero() {
			return false
		}
	}
	return any
}

// setRemoteMedia records a remote's {"media": …}, received directly or
// relayed by the SFU.
func (p *Peer) setRemoteMedia(remote string, ms MediaState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := p.members[remote]; m != nil {
		m.media, m.known = ms, true
	}
}

// setSpeaker records the SFU's active-speaker announcement.
func (p *Peer) setSpeaker(id string) {
	p.mu.Lock()
	p.speaker = id
	p.mu.Unlock()
}
