package signaling

// The MLS Delivery Service (RFC 9420 §16, docs/e2ee.md): the server orders a
// room's handshake messages and relays them; it holds no MLS key and
// parses no MLS message. Per room it keeps only the DS epoch and a loose
// set of participants it believes hold the group, both forgotten with the
// room. None of it is trusted for security: a lying server can delay or
// deny, never read or join (the clients check everything that matters).
//
// client → server
//
//	{"type":"mls","kind":"create"}                        the first member made a group (epoch 0)
//	{"type":"mls","kind":"kp","data":B64,"proof":B64?}    a KeyPackage (and invite proof) for the committer
//	{"type":"mls","kind":"commit","epoch":N,"data":B64,
//	 "welcome":{"to":[ID…],"data":B64,"tag":B64?}?}       a commit for DS epoch N
//
// server → client: the same kinds with "from" (and the epoch), plus; the
// welcome (join or resume) says {"mls": {"group": bool, "epoch": N}}
//
//	{"type":"mls","kind":"created","from":ID,"epoch":0}    a group exists now: send a KeyPackage
//	{"type":"mls","kind":"reset"}                         every holder left: the next create wins
//
// A refused create or commit gets `error` mls-stale naming what lost, so a
// client can tell its refusal from a late one for an earlier attempt:
//
//	{"type":"error","code":"mls-stale","ref":"mls","message":…,
//	 "of":"create"|"commit","epoch":N (the commit's epoch),"current":M,"group":bool}

import (
	"encoding/json"
	"fmt"
	"slices"
)

// TypeMLS is the MLS Delivery Service's message type.
const TypeMLS = "mls"

// The kinds of `mls` messages.
const (
	mlsCreate  = "create"
	mlsKP      = "kp"
	mlsCommit  = "commit"
	mlsWelcome = "welcome"
	mlsReset   = "reset"
	mlsCreated = "created"
)

// CodeMLSStale refuses a commit for an epoch that is not the room's
// current DS epoch (another commit won it) or from a participant who does
// not hold the group, or a create when a group exists: the client catches
// up on what it missed and tries again.
const CodeMLSStale Code = "mls-stale"

// staleMsg is the mls-stale `error`: the common error fields plus which
// message lost (of, and a commit's epoch) and where the room is now
// (current, group). A client that gave up waiting for an answer and
// committed again can then tell whose refusal this is.
type staleMsg struct {
	Type    string  `json:"type"`
	Code    Code    `json:"code"`
	Message string  `json:"message"`
	Ref     string  `json:"ref"`
	Of      string  `json:"of"`
	Epoch   *uint64 `json:"epoch,omitempty"`
	Current uint64  `json:"current"`
	Group   bool    `json:"group"`
}

// mlsStaleLocked refuses c's create (epoch nil) or its commit for epoch.
// Hub.mu held.
func (h *Hub) mlsStaleLocked(c *conn, ds *mlsRoom, of string, epoch *uint64) {
	msg := fmt.Sprintf("your %s lost: the room's MLS group is at epoch %d (group: %t)", of, ds.epoch, ds.group)
	if epoch != nil {
		msg = fmt.Sprintf("your commit for epoch %d lost: the room's MLS group is at epoch %d (group: %t)", *epoch, ds.epoch, ds.group)
	}
	h.opts.Observer.Error(CodeMLSStale)
	c.send(encode(staleMsg{Type: TypeError, Code: CodeMLSStale, Message: msg, Ref: TypeMLS,
		Of: of, Epoch: epoch, Current: ds.epoch, Group: ds.group}))
}

// Limits of `mls` messages.
const (
	// maxMLSData bounds one base64 MLS message. A Welcome carries the
	// ratchet tree, ≈ 200 bytes per member with the default suite: a
	// 100-member room's Welcome is ≈ 27 KiB in base64, under the frame
	// limit (MaxMessageBytes), which is the real bound.
	maxMLSData = MaxMessageBytes
	// maxMLSProof bounds a proof or welcome tag: an HMAC-SHA256 is 43
	// base64url characters.
	maxMLSProof = 64
	// maxWelcomeTargets: one commit adds at most this many newcomers (a
	// room's size limit is the bound that matters; this caps the list).
	maxWelcomeTargets = 128
)

// mlsRoom is a room's DS state; guarded by Hub.mu like every room field.
type mlsRoom struct {
	group   bool            // a create was accepted and some holder is still here
	epoch   uint64          // the epoch the next commit must name
	holders map[string]bool // participants believed to hold the group
}

// mlsReq is a decoded `mls` message.
type mlsReq struct {
	kind    string
	epoch   uint64
	data    string
	proof   string
	welcome *mlsWelcomeIn
}

type mlsWelcomeIn struct {
	To   []string `json:"to"`
	Data string   `json:"data"`
	Tag  string   `json:"tag,omitempty"`
}

type mlsOut struct {
	Type  string  `json:"type"`
	Kind  string  `json:"kind"`
	From  string  `json:"from,omitempty"`
	Epoch *uint64 `json:"epoch,omitempty"`
	Data  string  `json:"data,omitempty"`
	Proof string  `json:"proof,omitempty"`
	Tag   string  `json:"tag,omitempty"`
}

// decodeMLS validates an `mls` message's fields for its kind.
func decodeMLS(in inbound, req request) (request, *ProtocolError) {
	kind, perr := stringField(in.Kind, "kind", true)
	if perr != nil {
		return req, perr
	}
	m := mlsReq{kind: kind}
	switch kind {
	case mlsCreate:
	case mlsKP:
		if m.data, perr = boundedField(in.Data, "data", maxMLSData, true); perr != nil {
			return req, perr
		}
		if m.proof, perr = boundedField(in.Proof, "proof", maxMLSProof, false); perr != nil {
			return req, perr
		}
	case mlsCommit:
		if len(in.Epoch) == 0 {
			return req, protoErr(CodeMissingField, "a commit needs the epoch it was made for")
		}
		if err := json.Unmarshal(in.Epoch, &m.epoch); err != nil {
			return req, protoErr(CodeBadField, "epoch must be a whole number")
		}
		if m.data, perr = boundedField(in.Data, "data", maxMLSData, true); perr != nil {
			return req, perr
		}
		if len(in.Welcome) > 0 && string(in.Welcome) != "null" {
			if m.welcome, perr = decodeMLSWelcome(in.Welcome); perr != nil {
				return req, perr
			}
		}
	default:
		return req, protoErr(CodeBadField, "unknown mls kind %q", truncate(kind, 16))
	}
	req.mls = m
	return req, nil
}

func decodeMLSWelcome(raw json.RawMessage) (*mlsWelcomeIn, *ProtocolError) {
	var w mlsWelcomeIn
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, protoErr(CodeBadField, "welcome must be {to: [ids], data, tag?}")
	}
	if len(w.To) == 0 || len(w.To) > maxWelcomeTargets || w.Data == "" || len(w.Data) > maxMLSData || len(w.Tag) > maxMLSProof {
		return nil, protoErr(CodeBadField, "welcome needs 1 to %d recipients and its data", maxWelcomeTargets)
	}
	return &w, nil
}

func boundedField(raw json.RawMessage, name string, limit int, required bool) (string, *ProtocolError) {
	s, perr := stringField(raw, name, required)
	if perr != nil {
		return "", perr
	}
	if len(s) > limit {
		return "", protoErr(CodeBadField, "field %q is longer than %d bytes", name, limit)
	}
	return s, nil
}

// mls handles an `mls` message from c.
func (h *Hub) mls(c *conn, req request) *ProtocolError {
	m := req.mls
	h.mu.Lock()
	defer h.mu.Unlock()
	r := c.room
	if r == nil {
		return protoErr(CodeNotJoined, "send join before mls")
	}
	ds := &r.mls
	switch m.kind {
	case mlsCreate:
		if ds.group {
			h.mlsStaleLocked(c, ds, mlsCreate, nil)
			return nil
		}
		ds.group, ds.epoch = true, 0
		ds.holders = map[string]bool{c.id: true}
		r.broadcast(encode(mlsOut{Type: TypeMLS, Kind: mlsCreated, From: c.id, Epoch: ptr(ds.epoch)}), c)
	case mlsKP:
		r.broadcast(encode(mlsOut{Type: TypeMLS, Kind: mlsKP, From: c.id, Data: m.data, Proof: m.proof}), c)
	case mlsCommit:
		return h.mlsCommitLocked(c, r, m)
	}
	return nil
}

// mlsCommitLocked accepts the first commit for the current epoch: RFC 9420
// §14 wants one commit per epoch, in the same order for every member. It
// goes to every participant, its sender included (who merges its pending
// commit only then), then its Welcome to the newcomers. Hub.mu held.
func (h *Hub) mlsCommitLocked(c *conn, r *room, m mlsReq) *ProtocolError {
	ds := &r.mls
	// A commit from someone who does not hold the group is refused like a
	// late one: it can only come from a group of its own (a create that
	// lost a race it has not heard of yet), and relayed it would be
	// applied by no member of the real group (RFC 9420 §6.3.2: it does not
	// decrypt under their keys), leaving them all behind for good.
	if !ds.group || m.epoch != ds.epoch || !ds.holders[c.id] {
		h.mlsStaleLocked(c, ds, mlsCommit, ptr(m.epoch))
		return nil
	}
	epoch := ds.epoch
	ds.epoch++
	ds.holders[c.id] = true
	r.broadcast(encode(mlsOut{Type: TypeMLS, Kind: mlsCommit, From: c.id, Epoch: ptr(epoch), Data: m.data}), nil)
	if m.welcome == nil {
		return nil
	}
	msg := encode(mlsOut{Type: TypeMLS, Kind: mlsWelcome, From: c.id, Epoch: ptr(ds.epoch), Data: m.welcome.Data, Tag: m.welcome.Tag})
	for _, id := range slices.Compact(slices.Sorted(slices.Values(m.welcome.To))) {
		if to := r.member(id); to != nil && to != c {
			ds.holders[id] = true
			to.send(msg)
		}
	}
	return nil
}

// MLSState is the welcome's `mls` field: whether the room has a group to
// join (send a KeyPackage) or needs one (send create), and its DS epoch.
type MLSState struct {
	Group bool   `json:"group"`
	Epoch uint64 `json:"epoch"`
}

// state is the room's MLSState. Hub.mu held.
func (ds *mlsRoom) state() MLSState { return MLSState{Group: ds.group, Epoch: ds.epoch} }

// mlsLeftLocked forgets a leaver; when no holder of the group is left the
// room's DS state resets and everyone is told, so the next create wins.
// Hub.mu held, c already out of r.members.
func (h *Hub) mlsLeftLocked(c *conn, r *room) {
	ds := &r.mls
	delete(ds.holders, c.id)
	if !ds.group {
		return
	}
	for _, m := range r.members {
		if ds.holders[m.id] {
			return
		}
	}
	ds.group, ds.epoch, ds.holders = false, 0, nil
	r.broadcast(encode(mlsOut{Type: TypeMLS, Kind: mlsReset}), nil)
}

func ptr[T any](v T) *T { return &v }
