package sfu

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Audio at scale. In a 100-person room every browser would otherwise get
// 99 × 50 audio packets a second — more packets than all the video. Two
// things keep it down:
//
//   - Opus DTX (RFC 7587 §6.1, `usedtx=1`): a silent or muted microphone
//     sends one packet every 400 ms instead of 50 a second. The SFU asks
//     for it in every description it sends (withOpusDTX), which is what
//     makes a browser's Opus encoder turn DTX on toward it.
//   - Loudest N: above LoudestRoomSize participants, the SFU forwards only
//     the loudestN most active speakers' audio (by the RFC 6464 audio
//     level, which stays in clear under E2EE), with hysteresis, plus
//     anyone sharing a screen (who presents, and so talks over slides).

const (
	// LoudestRoomSize: rooms with more participants than this forward only
	// the loudest speakers. Up to 20, 19 streams of mostly DTX silence
	// cost a browser little; above, the packet rate grows with the square
	// of the room.
	LoudestRoomSize = 20

	// loudestN is how many speakers are forwarded in a large room: more
	// than the few people who talk at once in any conversation, so
	// backchannel ("mm-hm", laughter) still reaches everyone.
	loudestN = 6

	// activityDecay: a speaker's activity score is multiplied by
	// activityDecayNum/activityDecayDen every speakerInterval before this
	// interval's speech packets are added, so a speaker who stopped
	// fades over a few seconds rather than being cut mid-sentence.
	activityDecayNum, activityDecayDen = 3, 4

	// loudestMargin is how much more activity (in speech packets) a
	// newcomer needs than the quietest forwarded speaker to take its
	// place: two people at the threshold do not swap every interval.
	loudestMargin = 8
)

// opusRTPMap finds Opus's payload type in an SDP (RFC 7587 §7: the
// encoding name is "opus", clock rate 48000, 2 channels).
var opusRTPMap = regexp.MustCompile(`(?m)^a=rtpmap:(\d+) opus/48000/2\r?$`)

// withOpusDTX adds usedtx=1 (RFC 7587 §6.1) to every Opus fmtp line of an
// SDP that lacks it. The SFU puts it in the offers and answers it sends
// (not in the ones it sets locally: pion refuses a changed local
// description, and usedtx means nothing to the SFU's receiving side): a
// browser turns DTX on for what it sends when the remote description asks
// for it. Nothing else in the SDP changes.
func withOpusDTX(sdp string) string {
	pts := map[string]bool{}
	for _, m := range opusRTPMap.FindAllStringSubmatch(sdp, -1) {
		pts[m[1]] = true
	}
	if len(pts) == 0 {
		return sdp
	}
	lines := strings.Split(sdp, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "a=fmtp:")
		if !ok {
			continue
		}
		pt, params, ok := strings.Cut(strings.TrimRight(rest, "\r"), " ")
		if !ok || !pts[pt] || strings.Contains(params, "usedtx=") {
			continue
		}
		cr := ""
		if strings.HasSuffix(l, "\r") {
			cr = "\r"
		}
		lines[i] = "a=fmtp:" + pt + " " + params + ";usedtx=1" + cr
	}
	return strings.Join(lines, "\n")
}

// audibleSet chooses whose audio a large room forwards, from each
// participant's activity score: everyone who shares a screen, then the
// current set kept unless a newcomer is loudestMargin more active than its
// quietest member, then the most active up to loudestN. Ties go to the
// smaller id, so the result does not depend on map order.
func audibleSet(current map[string]bool, activity map[string]int, presenters map[string]bool) map[string]bool {
	next := map[string]bool{}
	for id := range presenters {
		next[id] = true
	}
	ids := make([]string, 0, len(activity))
	for id := range activity {
		ids = append(ids, id)
	}
	// Most active first; the current members first among equals.
	slices.SortFunc(ids, func(a, b string) int {
		if c := cmp.Compare(activity[b], activity[a]); c != 0 {
			return c
		}
		if current[a] != current[b] {
			if current[a] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	kept := 0
	for _, id := range ids {
		if current[id] && activity[id] > 0 && kept < loudestN {
			next[id] = true
			kept++
		}
	}
	// Newcomers fill free places, and replace the quietest kept member
	// only with a clear lead.
	for _, id := range ids {
		if next[id] || activity[id] == 0 {
			continue
		}
		if kept < loudestN {
			next[id] = true
			kept++
			continue
		}
		quietest := ""
		for _, k := range slices.Backward(ids) {
			if next[k] && !presenters[k] {
				quietest = k
				break
			}
		}
		if quietest != "" && activity[id] >= activity[quietest]+loudestMargin {
			delete(next, quietest)
			next[id] = true
		}
	}
	return next
}

// tickAudio updates whose audio the room forwards; called by the room's
// loop with this interval's speech-packet counts. The loop owns activity
// and audible. Below LoudestRoomSize everyone is audible.
func (r *room) tickAudio(counts map[string]int) {
	r.mu.Lock()
	large := len(r.sessions) > LoudestRoomSize
	presenters := map[string]bool{}
	for id, m := range r.media {
		if m.Screen != nil && *m.Screen != "" {
			presenters[id] = true
		}
	}
	var audio []*upTrack
	for _, u := range r.tracks {
		if u.kind == webrtc.RTPCodecTypeAudio {
			audio = append(audio, u)
		}
	}
	r.mu.Unlock()
	if !large {
		r.activity = nil
		r.audible = nil
		for _, u := range audio {
			u.muted.Store(false)
		}
		return
	}
	if r.activity == nil {
		r.activity = map[string]int{}
	}
	for id, a := range r.activity {
		r.activity[id] = a * activityDecayNum / activityDecayDen
	}
	for id, n := range counts {
		r.activity[id] += n
	}
	for id, a := range r.activity {
		if a == 0 {
			delete(r.activity, id)
		}
	}
	r.audible = audibleSet(r.audible, r.activity, presenters)
	for _, u := range audio {
		u.muted.Store(!r.audible[u.owner.id])
	}
}
