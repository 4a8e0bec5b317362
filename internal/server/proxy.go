package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustProxies rewrites r.RemoteAddr from X-Forwarded-For when the request
// comes from a configured reverse proxy, so per-IP limits and logs see the
// client and not the proxy. Requests from anywhere else keep their socket
// address and their X-Forwarded-* headers are ignored: a client cannot
// choose its own address by sending the header.
func trustProxies(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		// X-Forwarded-For: client, proxy1, proxy2. Walk from the right
		// past our own proxies; the first untrusted address is the client.
		client := peer.Addr()
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			client = a
			if !isTrusted(a) {
				break
			}
		}
		if client == peer.Addr() {
			next.ServeHTTP(w, r) // no usable header: the proxy itself
			return
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = net.JoinHostPort(client.Unmap().String(), "0")
		next.ServeHTTP(w, r2)
	})
}
