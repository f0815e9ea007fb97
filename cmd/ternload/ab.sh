#!/bin/bash
# Paired A/B of two tern binaries (or two configs) on this box:
#
#   cmd/ternload/ab.sh BEFORE-BINARY AFTER-BINARY
#
# Both serve at once (127.0.9.61 and 127.0.9.62, pinned to CPU 0, fresh data dirs and one
# RSA-2048 certificate), each with 200 registered users; then N rounds, each loading one and then
# the other (order alternating per round) with `ternload messages -pairs 100 -rate 0 -window 16
# -duration 4s` on CPU 1. Prints msgs/s per run and the median of the per-round after/before
# ratios: this box drifts by a third between minutes, so compare rounds, not single runs.
# Knobs (env): N=10 (rounds) OUT=dir; LOAD="-rate 0 -window 16 -duration 4s" (the load's
# ternload messages flags) and FIELD=recv_per_sec (the figure compared, any number in its JSON
# line, e.g. LOAD="-rate 8000 -duration 6s" FIELD=server_cpu_pct); TOML_BEFORE, TOML_AFTER:
# extra config for each server (the same binary twice compares two configs). Stops both
# servers by PID. About 15 s per round.
set -u
[ $# -eq 2 ] || { sed -n 2,15p "$0" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
N=${N:-10}
OUT=${OUT:-$(mktemp -d /tmp/ternab.XXXXXX)}
mkdir -p "$OUT" && cd "$OUT" || exit 1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
( cd "$HERE" && go build -o "$OUT/ternload" . ) || { echo "cannot build ternload" >&2; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bench.test" \
  -addext "subjectAltName=DNS:bench.test" -keyout key.pem -out cert.pem 2>/dev/null
declare -A BIN=([before]=$A [after]=$B) IP=([before]=127.0.9.61 [after]=127.0.9.62) PID=()
stop() { kill $(cat "$OUT"/*/pid 2>/dev/null) 2>/dev/null; }
trap stop EXIT
for v in before after; do
  mkdir -p "$v/data"
  cat > "$v/tern.toml" <<T
data_dir = "$OUT/$v/data"
log_level = "warn"
[[domain]]
name = "bench.test"
registration = true
cert = "$OUT/cert.pem"
key = "$OUT/key.pem"
[c2s]
listen = ["${IP[$v]}:5222"]
listen_tls = []
[http]
listen = ""
[limits]
conns_per_ip = 0
auth_failures_per_ip = 0
T
  if [ $v = before ]; then printf '%s\n' "${TOML_BEFORE:-}"; else printf '%s\n' "${TOML_AFTER:-}"; fi >> "$v/tern.toml"
  taskset -c 0 "${BIN[$v]}" serve --config "$v/tern.toml" >"$v/log" 2>&1 &
  PID[$v]=$!
  echo $! > "$v/pid"
done
for v in before after; do
  for _ in $(seq 1 100); do ss -ltn | grep -q "${IP[$v]}:5222 " && break; sleep 0.2; done
  taskset -c 1 ./ternload register -server "${IP[$v]}:5222" -sources 127.1.0.0-127.1.15.255 -per-conn 1 \
    -n 200 -c 16 -ratelimit-friendly -domain bench.test -password benchpass >/dev/null 2>>"$v/log" ||
    { echo "$v: registration failed, see $OUT/$v/log" >&2; exit 1; }
done
: > res.txt
for r in $(seq 1 "$N"); do
  order="before after"; [ $((r % 2)) = 0 ] && order="after before"
  for v in $order; do
    x=$(taskset -c 1 env GOMAXPROCS=1 ./ternload messages -server "${IP[$v]}:5222" -sources 127.0.0.10-127.0.0.29 \
      -pairs 100 ${LOAD:--rate 0 -window 16 -duration 4s} -domain bench.test -password benchpass -pid "${PID[$v]}" 2>/dev/null |
      grep -o "\"${FIELD:-recv_per_sec}\":[0-9.]*" | cut -d: -f2)
    echo "round $r $v ${x:-failed}" | tee -a res.txt
    sleep 1
  done
done
/usr/bin/python3 - res.txt "${FIELD:-recv_per_sec}" <<'P'
import statistics as s, sys
d = {'before': {}, 'after': {}}
for l in open(sys.argv[1]):
    _, r, v, x = l.split()
    if x != 'failed': d[v][r] = float(x)
b, a = d['before'], d['after']
rounds = [r for r in b if r in a]
if not rounds: sys.exit('no round completed on both')
print(f"before median {s.median(b.values()):,.1f}, after median {s.median(a.values()):,.1f} ({sys.argv[2]})")
print(f"after/before per round: median {s.median(a[r]/b[r] for r in rounds):.3f} over {len(rounds)} rounds")
P
