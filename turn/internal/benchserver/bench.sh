#!/bin/sh
# Relay CPU per packet: Parley's TURN (benchserver) vs coturn, same load
# from coturn's turnutils_uclient, run alternately. Loopback only.
#
#   apt-get install -y coturn
#   go build -o /tmp/benchserver ./turn/internal/benchserver
#   sh turn/internal/benchserver/bench.sh [rounds] [clients] [msgs] [interval-ms] [extra uclient flags]
#
# Needs free UDP/TCP ports 3479 (Parley), 3492-3493 (coturn), 3480-3481
# (turnutils_peer). Prints one line per run: server, relayed packets, server
# CPU seconds, CPU µs per relayed packet, loss.
set -eu
ROUNDS=${1:-3}; CLIENTS=${2:-20}; MSGS=${3:-5000}; INTERVAL=${4:-2}; EXTRA=${5:-}
SECRET=benchsecret
BENCHSERVER=${BENCHSERVER:-/tmp/benchserver}
TICK=$(getconf CLK_TCK)

cpu() { awk -v t="$TICK" '{print ($14+$15)/t}' "/proc/$1/stat"; }

turnutils_peer -L 127.0.0.1 -p 3480 >/dev/null 2>&1 & PEER=$!
"$BENCHSERVER" -listen 127.0.0.1:3479 -secret $SECRET -allow 127.0.0.0/8 -self-ports 3480 >/tmp/bench-parley.log 2>&1 & PARLEY=$!
turnserver -n --listening-ip=127.0.0.1 --listening-port=3492 --relay-ip=127.0.0.1 \
  --use-auth-secret --static-auth-secret=$SECRET --realm=parley --allow-loopback-peers \
  --no-cli --no-tls --no-dtls --no-tcp-relay --min-port=49152 --max-port=65535 \
  --total-quota=100000 --user-quota=100000 --pidfile=/tmp/bench-coturn.pid \
  --log-file=/tmp/bench-coturn.log >/dev/null 2>&1 & COTURN=$!
trap 'kill $PEER $PARLEY $COTURN 2>/dev/null' EXIT
sleep 2

run() { # name pid port
  before=$(cpu "$2")
  out=$(turnutils_uclient -c $EXTRA -p "$3" -W $SECRET -u bench -e 127.0.0.1 -r 3480 \
        -X -m "$CLIENTS" -n "$MSGS" -l 1200 -z "$INTERVAL" 127.0.0.1 2>&1 | tail -8)
  after=$(cpu "$2")
  sent=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1/p' | tail -1)
  recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\2/p' | tail -1)
  lost=$(echo "$out" | sed -n 's/.*Total lost packets \([0-9]*\) (\([0-9.]*\)%).*/\2/p' | tail -1)
  awk -v n="$1" -v s="$sent" -v r="$recv" -v b="$before" -v a="$after" -v l="$lost" \
    'BEGIN{p=s+r; c=a-b; printf "%-7s relayed=%d cpu=%.2fs us/pkt=%.2f loss=%s%%\n", n, p, c, (p>0?c*1e6/p:0), l}'
}

for i in $(seq "$ROUNDS"); do
  run parley $PARLEY 3479
  run coturn $COTURN 3492
done
