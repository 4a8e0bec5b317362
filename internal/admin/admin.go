// Package admin is Parley's administration API: a small JSON API under
// /api/admin/, behind a bearer token, over the signaling hub's admin
// operations. docs/admin.md documents it.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/logsafe"
	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
)

// maxBody bounds request bodies: the largest is {"policy":"mesh-only"}.
const maxBody = 4 << 10

// Hub is what the API needs of the signaling hub.
type Hub interface {
	Rooms() []signaling.RoomInfo
	Room(name string) (signaling.RoomInfo, error)
	DefaultPolicy() signaling.Policy
	SetDefaultPolicy(signaling.Policy)
	SetPolicy(room string, p signaling.Policy) error
	SetE2EE(room string, encrypted bool) error
	Kick(peerID string) error
	CloseRoom(name string) error
}

// SFU is what the API shows of the media server: what each participant
// of a room receives (its downlink estimate, and the layer of each
// forwarded video or why it is paused). *sfu.Server implements it.
type SFU interface {
	Receiving(room string) map[string]sfu.Receiving
}

// API serves /api/admin/.
type API struct {
	hub   Hub
	sfu   SFU // nil: no `receiving` in room snapshots (set with WithSFU)
	token []byte
	log   *slog.Logger
	mux   *http.ServeMux
	// refusals rate-limits the unauthorized-request line: anyone can
	// repeat a request without a token as fast as they like.
	refusals *logsafe.Limiter
}

// New returns the API. token must not be empty: an admin API without a
// token would let anyone kick anyone.
func New(hub Hub, token string, log *slog.Logger) (*API, error) {
	if token == "" {
		return nil, errors.New("admin: empty token")
	}
	a := &API{hub: hub, token: []byte(token), log: log, mux: http.NewServeMux(), refusals: logsafe.NewLimiter(log, logsafe.DefaultInterval)}
	a.mux.HandleFunc("GET /api/admin/rooms", a.listRooms)
	a.mux.HandleFunc("GET /api/admin/rooms/{room}", a.getRoom)
	a.mux.HandleFunc("DELETE /api/admin/rooms/{room}", a.closeRoom)
	a.mux.HandleFunc("PUT /api/admin/rooms/{room}/policy", a.setRoomPolicy)
	a.mux.HandleFunc("PUT /api/admin/policy", a.setPolicy)
	a.mux.HandleFunc("PUT /api/admin/rooms/{room}/e2ee", a.setRoomE2EE)
	a.mux.HandleFunc("DELETE /api/admin/participants/{id}", a.kick)
	a.mux.HandleFunc("/api/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not-found", "no such admin endpoint: "+r.Method+" "+r.URL.Path)
	})
	return a, nil
}

// WithSFU makes room snapshots show what each participant receives from
// this node's SFU. Call it before serving.
func (a *API) WithSFU(s SFU) *API {
	a.sfu = s
	return a
}

// ServeHTTP checks the bearer token, then routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="parley-admin"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid admin token is required (Authorization: Bearer <token>)")
		a.refusals.Warn(r.Context(), "unauthorized", "admin: unauthorized request",
			logsafe.String("method", r.Method), logsafe.String("path", r.URL.Path), logsafe.String("remote", r.RemoteAddr))
		return
	}
	a.mux.ServeHTTP(w, r)
}

type roomsResponse struct {
	Policy signaling.Policy `json:"policy"`
	Rooms  []roomSnapshot   `json:"rooms"`
}

// roomSnapshot is the hub's room snapshot plus, for an SFU room on this
// node, what each participant receives, by participant id.
type roomSnapshot struct {
	signaling.RoomInfo
	Receiving map[string]sfu.Receiving `json:"receiving,omitempty"`
}

func (a *API) snapshot(ri signaling.RoomInfo) roomSnapshot {
	rs := roomSnapshot{RoomInfo: ri}
	if a.sfu != nil && ri.Mode == signaling.ModeSFU {
		rs.Receiving = a.sfu.Receiving(ri.Name)
	}
	return rs
}

// rooms is every room's snapshot with the default policy.
func (a *API) rooms() roomsResponse {
	rooms := a.hub.Rooms()
	out := make([]roomSnapshot, 0, len(rooms))
	for _, ri := range rooms {
		out = append(out, a.snapshot(ri))
	}
	return roomsResponse{Policy: a.hub.DefaultPolicy(), Rooms: out}
}

func (a *API) listRooms(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.rooms())
}

func (a *API) getRoom(w http.ResponseWriter, r *http.Request) {
	ri, err := a.hub.Room(r.PathValue("room"))
	if err != nil {
		writeHubError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a.snapshot(ri))
}

func (a *API) closeRoom(w http.ResponseWriter, r *http.Request) {
	if err := a.hub.CloseRoom(r.PathValue("room")); err != nil {
		writeHubError(w, err)
		return
	}
	a.log.Info("admin: room closed", logsafe.String("room", r.PathValue("room")))
	w.WriteHeader(http.StatusNoContent)
}

type policyRequest struct {
	Policy string `json:"policy"`
}

// readPolicy decodes {"policy": "..."} strictly.
func readPolicy(w http.ResponseWriter, r *http.Request) (signaling.Policy, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req policyRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad-json", fmt.Sprintf("expected {\"policy\": \"auto|mesh-only|sfu-only\"}: %v", err))
		return 0, false
	}
	p, err := signaling.ParsePolicy(req.Policy)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad-policy", err.Error())
		return 0, false
	}
	return p, true
}

func (a *API) setPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := readPolicy(w, r)
	if !ok {
		return
	}
	a.hub.SetDefaultPolicy(p)
	writeJSON(w, http.StatusOK, a.rooms())
}

func (a *API) setRoomPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := readPolicy(w, r)
	if !ok {
		return
	}
	room := r.PathValue("room")
	if err := a.hub.SetPolicy(room, p); err != nil {
		writeHubError(w, err)
		return
	}
	a.getRoom(w, r)
}

func (a *API) kick(w http.ResponseWriter, r *http.Request) {
	if err := a.hub.Kick(r.PathValue("id")); err != nil {
		writeHubError(w, err)
		return
	}
	a.log.Info("admin: participant kicked", logsafe.String("peer", r.PathValue("id")))
	w.WriteHeader(http.StatusNoContent)
}

// writeHubError maps the hub's errors to HTTP, in one place.
func writeHubError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, signaling.ErrNoRoom):
		writeError(w, http.StatusNotFound, "no-room", err.Error())
	case errors.Is(err, signaling.ErrNoPeer):
		writeError(w, http.StatusNotFound, "no-participant", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
