#!/usr/bin/env bash
# The Go half of `make test`: every package with the race detector, the e2e
# package (browsers and pion participants) inside a network namespace that
# has only loopback when this machine allows it, so no test can reach
# anything but 127.0.0.1. At the end it lists every skipped test with its
# reason and says how many there were: nothing is skipped silently.
set -uo pipefail

GO=${GO:-go}
TIMEOUT=${TIMEOUT:-15m}
# The browser tests (Chromium and Firefox, mesh, SFU, cluster, hostile
# server, accessibility) run one after another on two cores.
E2E_TIMEOUT=${E2E_TIMEOUT:-45m}
mkdir -p bin
log=bin/test-go.log # the whole -v output, kept for reading after a failure
FAIL_LINES=${FAIL_LINES:-120} # printed per failed test

# Everything that needs the network happens first, outside: module
# downloads and compiling every test binary.
$GO mod download || exit 1
$GO test -race -count=1 -run '^$' ./... >/dev/null || { echo "make test-go: the tests do not build" >&2; exit 1; }

status=0
others=$($GO list ./... | grep -v '/e2e$')
# shellcheck disable=SC2086
$GO test -race -count=1 -timeout "$TIMEOUT" -v $others >"$log" 2>&1 || status=1

e2e=(env GOPROXY=off GOTOOLCHAIN=local "$GO" test -race -count=1 -timeout "$E2E_TIMEOUT" -v ./e2e)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare --net -- true 2>/dev/null; then
  echo "make test-go: e2e runs in a network namespace that reaches nothing outside it (unshare --net)"
  # With loopback as the only interface, ICE fails in Firefox (ESR 153),
  # to the SFU and to Chromium alike (docs/browsers.md). So the
  # namespace also gets a veth pair whose both ends stay inside it, with a
  # private address and a default route to a neighbour that does not
  # exist: a packet for anywhere but this namespace is dropped here.
  unshare --net -- sh -c '
    ip link set lo up &&
    ip link add pv0 type veth peer name pv1 &&
    ip addr add 10.111.0.1/24 dev pv0 &&
    ip link set pv0 up && ip link set pv1 up &&
    ip route add default via 10.111.0.2 dev pv0 &&
    exec "$@"' sh "${e2e[@]}" >>"$log" 2>&1 || status=1
else
  echo "make test-go: cannot create a network namespace (not root, or no unshare): e2e runs in this machine's network; its tests still dial only 127.0.0.1"
  "${e2e[@]}" >>"$log" 2>&1 || status=1
fi

# What people need from a -v log: the package verdicts, failures in full,
# and every skip with its reason.
grep -E '^(ok|FAIL|---|panic:|\?)' "$log" | grep -v -- '--- PASS' || true
if [ "$status" != 0 ]; then
  # CI keeps only what is printed: the end of each failed top-level test's
  # own output (its t.Fatal and logs, and the server's warnings and errors).
  awk -v keep="$FAIL_LINES" '
    /^=== RUN   [^\/]+$/ { name = $3; n = 0 }
    / level=(DEBUG|INFO) / { next } # the server log, chatty
    { buf[n % keep] = $0; n++ }
    /^--- FAIL: / && $3 == name {
      print "make test-go: the last lines of " name ":"
      for (i = (n > keep ? n - keep : 0); i < n; i++) print "    " buf[i % keep]
    }' "$log"
  echo "make test-go: FAILED; the whole output is in $log (search for '--- FAIL')"
fi
skips=$(grep -c -- '--- SKIP' "$log" || true)
echo "make test-go: $skips test(s) skipped:"
# go test -v prints a skip's reason (its t.Skip line) just before "--- SKIP".
# A subtest's reason comes before its parent's result lines: the last
# test line that says "skip" stands in when the line before is not one.
awk '/_test\.go:[0-9]+: .*[Ss]kip/ { reason = $0 }
  /--- SKIP/ { sub(/^ +/, "", $0); print "  " $0; r = (prev ~ /_test\.go:[0-9]+:/) ? prev : reason; if (r != "") { sub(/^ +/, "", r); print "    " r } }
  { prev = $0 }' "$log"
exit $status
