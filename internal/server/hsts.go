package server

import (
	"net/http"
	"strconv"
	"time"
)

// hsts adds Strict-Transport-Security to every response when maxAge > 0
// (config.HSTS decides: only when Parley serves TLS itself). Browsers
// ignore the header over plain HTTP, so it is never sent there.
func hsts(maxAge time.Duration, next http.Handler) http.Handler {
	if maxAge <= 0 {
		return next
	}
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", v)
		next.ServeHTTP(w, r)
	})
}
