#!/bin/bash
# The Direct DNS responder against BIND, on this box:
#
#   cmd/ternload/dnsbench.sh TERN-BINARY
#
# tern (a Direct domain a.example, [dns] listen on 127.0.9.71:5353) and BIND named (-n 1, the same
# records for a.example in a zone file, on 127.0.0.1:5354: named listens only on interface addresses) serve at once, each pinned to CPU 0;
# dnsperf (Debian) loads one and then the other from CPU 1, ROUNDS times, order alternating, with
# the same queries (SRV, A, SOA, NS, a missing name). Prints queries/s per run and the medians.
# Knobs (env): ROUNDS=3 SECONDS_EACH=8 CLIENTS=8 OUT=dir. Stops both servers by PID.
set -u
[ $# -eq 1 ] || { sed -n 2,10p "$0" >&2; exit 2; }
TERN=$(realpath "$1")
ROUNDS=${ROUNDS:-3} SECS=${SECONDS_EACH:-8} CLIENTS=${CLIENTS:-8}
OUT=${OUT:-$(mktemp -d /tmp/terndns.XXXXXX)}
command -v dnsperf >/dev/null && command -v named >/dev/null || { echo "needs dnsperf and named: apt-get install dnsperf bind9" >&2; exit 2; }
mkdir -p "$OUT" && cd "$OUT" || exit 1
stop() { kill $(cat "$OUT"/*.pid 2>/dev/null) 2>/dev/null; }
trap stop EXIT
"$TERN" cert init --dir ca --name bench >/dev/null && "$TERN" cert issue --dir ca --domain a.example >/dev/null || exit 1
cat > tern.toml <<T
data_dir = "$OUT/data"
log_level = "warn"
[[domain]]
name = "a.example"
direct = true
cert = "$OUT/ca/issued/a.example.pem"
key = "$OUT/ca/issued/a.example.key"
[c2s]
listen = ["127.0.9.71:5222"]
listen_tls = []
[s2s]
listen = ["127.0.9.71:5269"]
[http]
listen = ""
[dns]
listen = "127.0.9.71:5353"
host = "xmpp.a.example"
host_ips = ["127.0.9.71"]
rate_per_ip = 0
T
taskset -c 0 "$TERN" serve --config tern.toml > tern.log 2>&1 & echo $! > tern.pid
cat > a.example.zone <<Z
\$TTL 3600
@ IN SOA xmpp.a.example. hostmaster.a.example. 1 3600 600 604800 300
@ IN NS xmpp.a.example.
xmpp IN A 127.0.9.71
_xmpp-server._tcp IN SRV 0 0 5269 xmpp.a.example.
_xmpp-client._tcp IN SRV 0 0 5222 xmpp.a.example.
Z
cat > named.conf <<N
options { directory "$OUT"; listen-on port 5354 { 127.0.0.1; }; listen-on-v6 { none; }; recursion no;
  pid-file "$OUT/named.run.pid"; session-keyfile "$OUT/session.key"; dnssec-validation no; };
zone "a.example" { type primary; file "$OUT/a.example.zone"; };
N
taskset -c 0 named -g -n 1 -c "$OUT/named.conf" > named.log 2>&1 & echo $! > named.pid
printf '%s\n' "_xmpp-server._tcp.a.example SRV" "_xmpp-client._tcp.a.example SRV" "xmpp.a.example A" \
  "a.example SOA" "a.example NS" "nobody.a.example CERT" > queries.txt
for a in 127.0.9.71:5353 127.0.0.1:5354; do
  for _ in $(seq 1 50); do dig @${a%:*} -p ${a#*:} +time=1 +tries=1 +short a.example SOA | grep -q . && break; sleep 0.2; done
done
: > res.txt
for r in $(seq 1 "$ROUNDS"); do
  order="tern bind"; [ $((r % 2)) = 0 ] && order="bind tern"
  for v in $order; do
    ip=127.0.9.71 port=5353; [ $v = bind ] && ip=127.0.0.1 port=5354
    taskset -c 1 dnsperf -s $ip -p $port -d queries.txt -l "$SECS" -c "$CLIENTS" -q 500 > perf.$v.$r 2>&1
    q=$(awk '/Queries per second/ {print $4}' perf.$v.$r)
    echo "round $r $v ${q:-failed} ($(grep -o 'Queries lost:.*' perf.$v.$r))" | tee -a res.txt
  done
done
/usr/bin/python3 - res.txt <<'P'
import statistics as s, sys
d = {}
for l in open(sys.argv[1]):
    _, r, v, x = l.split()[:4]
    if x != 'failed': d.setdefault(v, []).append(float(x))
for v in ('tern', 'bind'):
    if v in d: print(f"{v}: median {s.median(d[v]):,.0f} queries/s over {len(d[v])} runs")
P
