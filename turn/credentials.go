package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme and coturn's use-auth-secret fix HMAC-SHA1
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ICEServer is one entry of RTCConfiguration.iceServers, as signaling puts
// it in the welcome message. The JSON names are the WebRTC ones.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// MintCredential makes a time-limited TURN credential for peerID in the TURN
// REST scheme (draft-uberti-behave-turn-rest-00), which coturn implements as
// use-auth-secret/static-auth-secret: the username is
// "<unix-expiry>:<peerId>" and the password is
// base64(HMAC-SHA1(secret, username)) in standard base64 with padding. Any
// server that knows secret can check it without a database.
func MintCredential(secret, peerID string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + peerID
	return username, restPassword([]byte(secret), username)
}

// restPassword is base64(HMAC-SHA1(secret, username)), the password of the
// TURN REST scheme.
func restPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username)) // hash.Hash.Write never fails
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a TURN REST username into its expiry and peer ID.
// The peer ID is everything after the first colon and may itself contain
// colons.
func parseUsername(username string) (expiry time.Time, peerID string, err error) {
	ts, peerID, ok := strings.Cut(username, ":")
	if !ok {
		return time.Time{}, "", ErrMalformedUsername
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, "", ErrMalformedUsername
	}
	return time.Unix(secs, 0), peerID, nil
}

// ICEServers returns what a joining participant needs to use the relay:
// turn: URLs over UDP and TCP (plus turns: when TLS is configured, plus any
// ExternalURLs), with a credential minted now for peerID and valid for
// CredentialTTL. Every call mints a fresh credential, so a client that
// reconnects is never handed an expired one. It returns nil when there is
// nothing to offer (embedded server off and no external URLs).
//
// The credential is not logged here or anywhere else.
func (s *Server) ICEServers(peerID string) []ICEServer {
	urls := s.iceURLs()
	if len(urls) == 0 {
		return nil
	}
	username, password := MintCredential(s.cfg.Secret, peerID, s.now().Add(s.cfg.CredentialTTL))
	return []ICEServer{{
		URLs:       urls,
		Username:   username,
		Credential: password,
	}}
}

// iceURLs is the current list of URLs to offer: the embedded server's,
// with the ports it actually listens on once started, then the external
// ones.
func (s *Server) iceURLs() []string {
	if p := s.urls.Load(); p != nil {
		return *p
	}
	return nil
}

// setURLs recomputes the URL list from the ports the embedded server
// listens on (udpPort/tlsPort; 0 means not listening).
func (s *Server) setURLs(udpPort, tlsPort int) {
	var urls []string
	if udpPort != 0 {
		host := urlHost(s.cfg.URLHost)
		// RFC 7065 §3.1: turn:host:port?transport=udp|tcp. The TCP listener
		// shares the UDP port (Start binds them together).
		urls = append(urls,
			fmt.Sprintf("turn:%s:%d?transport=udp", host, udpPort),
			fmt.Sprintf("turn:%s:%d?transport=tcp", host, udpPort))
		if tlsPort != 0 {
			urls = append(urls, fmt.Sprintf("turns:%s:%d?transport=tcp", host, tlsPort))
		}
	}
	urls = append(urls, s.cfg.ExternalURLs...)
	s.urls.Store(&urls)
}

// urlHost brackets an IPv6 literal for use in a URL (RFC 7065 §3.1 uses the
// RFC 3986 host syntax).
func urlHost(host string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]"
	}
	return host
}
