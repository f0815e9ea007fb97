#!/bin/bash
# Federation benchmark: messages/s between two tern instances over one s2s stream, and the
# latency s2s adds over c2s-only delivery (issue 4).
#
#   cmd/ternload/bench-s2s.sh          (about 2 minutes; stops everything it starts)
#
# Instance A serves a.test on $IP_A, B serves b.test on $IP_B; each routes the other's domain
# statically to its s2s listener (self-signed certificates: dialback over TLS). Both servers share
# CPU 0, ternload runs on CPU 1. Runs, each $DUR at $RATE msgs/s open loop, $PAIRS pairs:
#   1. c2s only: senders and receivers on A            (baseline latency)
#   2. s2s: senders on A, receivers on B              (one s2s stream A->B)
#   3. closed loop A->B                               (maximum msgs/s over the stream)
# Knobs (env): PAIRS=50 RATE=4000 DUR=10s IP_A=127.0.8.1 IP_B=127.0.8.2 OUT=dir
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAIRS=${PAIRS:-50}; RATE=${RATE:-4000}; DUR=${DUR:-10s}
IP_A=${IP_A:-127.0.8.1}; IP_B=${IP_B:-127.0.8.2}
OUT=${OUT:-$(mktemp -d /tmp/terns2s.XXXXXX)}; mkdir -p "$OUT"
log() { echo "== $(date +%T) $*" >&2; }
go build -o "$OUT/tern" "$ROOT/cmd/tern" && go build -o "$OUT/ternload" "$ROOT/cmd/ternload" || exit 1
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
start() { # name ip domain peerdomain peerip
  local d="$OUT/$1"; mkdir -p "$d"
  cat > "$d/tern.toml" <<TOML
data_dir = "$d/data"
log_level = "warn"
[[domain]]
name = "$3"
registration = true
[c2s]
listen = ["$2:5222"]
listen_tls = []
[s2s]
listen = ["$2:5269"]
routes = { "$4" = "$5:5269" }
[http]
listen = ""
[limits]
conns_per_ip = 0
auth_failures_per_ip = 0
registrations_per_ip = 0
TOML
  taskset -c 0 "$OUT/tern" serve --config "$d/tern.toml" > "$d/log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 50); do ss -ltn | grep -q "$2:5222 " && return 0; sleep 0.1; done
  echo "tern $1 did not start: $(tail -3 "$d/log")" >&2; exit 1
}
start A "$IP_A" a.test b.test "$IP_B"
start B "$IP_B" b.test a.test "$IP_A"
L() { GOMAXPROCS=1 taskset -c 1 "$OUT/ternload" "$@" -password benchpass -max-time 120s; }
N=$((2*PAIRS))
log "register $N users on each"
L register -server "$IP_A:5222" -domain a.test -n $N -c 8 > /dev/null || exit 1
L register -server "$IP_B:5222" -domain b.test -n $N -c 8 > /dev/null || exit 1
log "1. c2s only (A)"
L messages -server "$IP_A:5222" -domain a.test -pairs $PAIRS -rate $RATE -duration $DUR -warmup 1s | tee "$OUT/c2s.json"
log "2. s2s A->B"
L messages -server "$IP_A:5222" -domain a.test -to-server "$IP_B:5222" -to-domain b.test -pairs $PAIRS -rate $RATE -duration $DUR -warmup 1s | tee "$OUT/s2s.json"
log "3. s2s A->B closed loop"
L messages -server "$IP_A:5222" -domain a.test -to-server "$IP_B:5222" -to-domain b.test -pairs $PAIRS -rate 0 -duration 8s | tee "$OUT/s2s-max.json"
echo "results in $OUT" >&2
