package sfu

import (
	"sort"
	"time"

	"github.com/pion/webrtc/v4"
)

// Active-speaker detection from the audio-level header extension (RFC
// 6464): the sender's browser writes the level of each audio packet, in
// −dBov (0 loudest, 127 silence), outside the encrypted payload. The SFU
// counts, per participant and interval, the packets louder than
// speechLevel; the participant with most such packets is the speaker. The
// room sends {"speaker": id} when that changes, at most once per
// speakerInterval.

const (
	// speakerInterval is the detection window and the most often a
	// speaker change is announced (≤ 2/s): faster makes tiles flicker.
	speakerInterval = 500 * time.Millisecond

	// speechLevel is the loudest level, in −dBov, that still counts as
	// speech. Talking into a laptop microphone measures ≈ 25–45; room
	// noise after the browser's noise suppression measures 60 and more.
	speechLevel = 50

	// minSpeechPackets is how many speech packets in one interval make
	// someone a candidate: with 20 ms Opus frames (25 per interval) it is
	// ≈ 160 ms of speech, so a cough or a click does not take the floor.
	minSpeechPackets = 8

	// speakerMargin is how many more speech packets than the current
	// speaker a candidate needs to take over while the current speaker is
	// still talking: two people talking at once do not flip every interval.
	speakerMargin = 4
)

// noteAudioLevel counts p toward the speaker window when it is speech.
func (u *upTrack) noteAudioLevel(p *packet) {
	if u.levelID == 0 {
		return
	}
	v := p.hdr.GetExtension(u.levelID)
	if len(v) == 0 {
		return
	}
	if v[0]&0x7f <= speechLevel { // the top bit is the voice-activity flag
		u.speech.Add(1)
	}
}

// nextSpeaker picks the active speaker from one interval's speech-packet
// counts. Nobody speaking keeps the last speaker (a silence is not a change
// worth announcing); ties go to the current speaker, then to the smallest
// id, so the result does not depend on map order.
func nextSpeaker(current string, counts map[string]int) string {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	best, bestN := "", -1
	for _, id := range ids {
		if n := counts[id]; n > bestN || (n == bestN && id == current) {
			best, bestN = id, n
		}
	}
	if bestN < minSpeechPackets || best == current {
		return current
	}
	if cur := counts[current]; cur >= minSpeechPackets && bestN < cur+speakerMargin {
		return current
	}
	return best
}

// speakerLoop runs while the room exists (Server.wg).
func (r *room) speakerLoop(stop <-chan struct{}) {
	defer r.srv.wg.Done()
	t := time.NewTicker(speakerInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			counts := r.tickSpeaker()
			r.tickAudio(counts)
			r.tickBandwidth()
			r.tickLayers()
		}
	}
}

// tickSpeaker closes one detection interval and returns its speech-packet
// counts per participant.
func (r *room) tickSpeaker() map[string]int {
	r.mu.Lock()
	counts := make(map[string]int, len(r.sessions))
	for _, u := range r.tracks {
		if u.kind == webrtc.RTPCodecTypeAudio {
			counts[u.owner.id] += int(u.speech.Swap(0))
		}
	}
	next := nextSpeaker(r.speaker, counts)
	if next == r.speaker {
		r.mu.Unlock()
		return counts
	}
	r.speaker = next
	to := r.others(nil)
	r.mu.Unlock()
	msg := mustJSON(speakerMsg{Speaker: next})
	for _, ss := range to {
		ss.send(msg)
	}
	return counts
}
