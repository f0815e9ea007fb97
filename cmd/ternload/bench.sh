#!/bin/bash
# Side-by-side benchmark: tern vs Prosody 0.12 vs ejabberd 23.01 on this box.
#
#   cmd/ternload/bench.sh [tern] [prosody] [ejabberd]      (default: all three, one after the other)
#
# Each server gets a fresh temp dir and config, is pinned to CPU 0 (taskset -c 0), and is
# stopped by PID afterwards; ternload runs on CPU 1 with GOMAXPROCS=1. Per server:
#   register N users (XEP-0077) -> sessions (server KB/session) -> logins (SCRAM, logins/s)
#   -> messages closed loop (max msgs/s) -> if that maximum is below $RATE: open loop at 70%
#   of it -> messages open loop at $RATE msgs/s (latency).
# "lost" = not received by the end of the drain period (5 s after sending stopped).
# Results: one JSON line per step in $OUT/results.jsonl, a markdown table on stdout.
# Needs: root, apt-get install -y prosody ejabberd, Go. Bounded: about 8-10 minutes for all three.
# Knobs (env): N_TERN=10000 N_PEER=2000 LOGINS=2000 LOGIN_C=8 LOGIN_SECS=8s PAIRS=100 RATE=8000
#   DUR=10s MAXDUR=8s IP_TERN=127.0.9.2 IP_PROSODY=127.0.9.1 IP_EJABBERD=127.0.9.3 OUT=dir
#   MSGFLAGS="-sm" (extra flags for the message steps: -sm enables XEP-0198 on every session;
#   the Prosody and ejabberd configs here do not offer it)
#   TERN_TOML (lines appended to tern's config, after its [limits] table: e.g.
#   TERN_TOML=$'[delivery]\nnotify = "all"\ntrack = "all"' for delivery tracking on)
#   GROUPCHAT=1: archives and group chat on all three (tern's defaults; Prosody mod_mam and a
#   muc component with muc_mam; ejabberd mod_mam and mod_muc with mam rooms) and other steps:
#   register -> messages closed loop (1:1 with archiving) -> mam (MAM_READERS readers page
#   MAM_FILL messages each, 250 a page) -> muc open loop (MUC_OCC occupants, MUC_SENDERS
#   senders, MUC_RATE msgs/s: MUC_RATE x MUC_OCC deliveries/s) -> muc closed loop (window 4).
#   Knobs: MUC_OCC=200 MUC_SENDERS=5 MUC_RATE=250 MAM_READERS=10 MAM_FILL=2000 N_PEER=N_TERN=220
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVERS=${*:-tern prosody ejabberd}
N_TERN=${N_TERN:-10000}
N_PEER=${N_PEER:-2000}
LOGINS=${LOGINS:-2000}
LOGIN_C=${LOGIN_C:-8}
LOGIN_SECS=${LOGIN_SECS:-8s}
PAIRS=${PAIRS:-100}
RATE=${RATE:-8000}
read -r -a MSGF <<<"${MSGFLAGS:-}"
GROUPCHAT=${GROUPCHAT:-}
MUC_OCC=${MUC_OCC:-200}
MUC_SENDERS=${MUC_SENDERS:-5}
MUC_RATE=${MUC_RATE:-250}
MAM_READERS=${MAM_READERS:-10}
MAM_FILL=${MAM_FILL:-2000}
if [ -n "$GROUPCHAT" ]; then N_TERN=${N_TERN_GC:-220} N_PEER=${N_PEER_GC:-220}; fi
DUR=${DUR:-10s}
MAXDUR=${MAXDUR:-8s}
SOURCES=${SOURCES:-127.0.0.10-127.0.0.29}
REG_SOURCES=${REG_SOURCES:-127.1.0.0-127.1.15.255}
DOMAIN=bench.test
PASS=benchpass
OUT=${OUT:-$(mktemp -d /tmp/ternbench.XXXXXX)}
mkdir -p "$OUT"
RES="$OUT/results.jsonl"
: > "$RES"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log() { echo "== $(date +%T) $*" >&2; }

( cd "$ROOT" && go build -o "$OUT/ternload" ./cmd/ternload ) || { echo "cannot build ternload" >&2; exit 1; }
LOAD() { # LOAD server step subcommand args...: one JSON line, tagged with server and step
  local label=$1 step=$2; shift 2
  taskset -c 1 env GOMAXPROCS=1 "$OUT/ternload" "$@" -domain "$DOMAIN" -password "$PASS" -max-time 150s \
    2>>"$OUT/$label.progress.log" | sed "s/^{/{\"target\":\"$label\",\"step\":\"$step\",/" | tee -a "$RES" >&2
}

# One self-signed RSA-2048 cert for all three, so TLS costs the same everywhere.
CERT="$OUT/cert"
mkdir -p "$CERT"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$DOMAIN" \
  -addext "subjectAltName=DNS:$DOMAIN,DNS:*.$DOMAIN" -keyout "$CERT/$DOMAIN.key" -out "$CERT/$DOMAIN.crt" 2>/dev/null
cat "$CERT/$DOMAIN.crt" "$CERT/$DOMAIN.key" > "$CERT/$DOMAIN.pem"
chmod 644 "$CERT"/*

wait_listen() { # ip port
  for _ in $(seq 1 100); do ss -ltn | grep -q "$1:$2 " && return 0; sleep 0.2; done
  return 1
}

PID="" STOP=""
start_tern() {
  local run="$OUT/tern"; mkdir -p "$run/data"
  ( cd "$ROOT" && go build -o "$run/tern" ./cmd/tern ) 2>"$run/build.log" || { log "tern does not build: $(tail -3 "$run/build.log")"; return 1; }
  cat > "$run/tern.toml" <<EOF
data_dir = "$run/data"
log_level = "warn"
[[domain]]
name = "$DOMAIN"
registration = true
cert = "$CERT/$DOMAIN.crt"
key = "$CERT/$DOMAIN.key"
[c2s]
listen = ["$IP_TERN:5222"]
listen_tls = []
[http]
listen = ""
[limits]
conns_per_ip = 0
auth_failures_per_ip = 0
${TERN_TOML:-}
EOF
  taskset -c 0 "$run/tern" serve --config "$run/tern.toml" >"$run/stdout.log" 2>&1 &
  PID=$!
  STOP="kill $PID"
  wait_listen "$IP_TERN" 5222 || { log "tern did not listen: $(tail -5 "$run/stdout.log")"; kill "$PID" 2>/dev/null; return 1; }
  ADDR="$IP_TERN:5222"
}

start_prosody() {
  local run="$OUT/prosody"; mkdir -p "$run/data"
  PROSODY_MAM="" PROSODY_MAMOPT="" PROSODY_MUC=""
  if [ -n "$GROUPCHAT" ]; then
    PROSODY_MAM='"mam"'
    PROSODY_MAMOPT='archive_expires_after = "never"
default_archive_policy = true
max_archive_query_results = 250'
    PROSODY_MUC="Component \"conference.$DOMAIN\" \"muc\"
  modules_enabled = { \"muc_mam\" }
  restrict_room_creation = false
  muc_room_default_history_length = 20
  muc_log_by_default = true
  ssl = { certificate = \"$CERT/$DOMAIN.crt\"; key = \"$CERT/$DOMAIN.key\"; }"
  fi
  cat > "$run/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$run/prosody.pid"
data_path = "$run/data"
log = { warn = "$run/prosody.log" }
interfaces = { "$IP_PROSODY" }
local_interfaces = { "$IP_PROSODY" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
-- the same feature set as the tern and ejabberd configs: no MAM, carbons, PEP, BOSH
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "register"; "presence"; $PROSODY_MAM }
modules_disabled = { "posix"; "s2s" }
allow_registration = true
registration_throttle_max = 1000000
min_seconds_between_registrations = 0
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
network_settings = { nagle = false; opportunistic_writes = true; }
limits = { c2s = { rate = "100mb/s"; } }
certificates = "$CERT"
$PROSODY_MAMOPT
VirtualHost "$DOMAIN"
  ssl = { certificate = "$CERT/$DOMAIN.crt"; key = "$CERT/$DOMAIN.key"; }
$PROSODY_MUC
EOF
  taskset -c 0 prosody --config "$run/prosody.cfg.lua" -F >"$run/stdout.log" 2>&1 &
  PID=$!
  STOP="kill $PID"
  wait_listen "$IP_PROSODY" 5222 || { log "prosody did not listen: $(tail -5 "$run/stdout.log")"; kill "$PID"; return 1; }
  ADDR="$IP_PROSODY:5222"
}

start_ejabberd() {
  local run="$OUT/ejabberd"; mkdir -p "$run/cfg" "$run/spool" "$run/logs"
  EJ_GC=""
  if [ -n "$GROUPCHAT" ]; then
    EJ_GC="  mod_mam:
    default: always
  mod_muc:
    host: conference.$DOMAIN
    access_create: all
    max_users: 1000
    max_user_conferences: 1000
    default_room_options:
      mam: true"
  fi
  cat > "$run/cfg/ejabberd.yml" <<EOF
hosts: ["$DOMAIN"]
loglevel: warning
log_rotate_count: 0
certfiles: ["$CERT/$DOMAIN.pem"]
auth_password_format: scram
auth_scram_hash: sha256
registration_timeout: infinity
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 5000
  c2s_shaper: none
listen:
  - port: 5222
    ip: "$IP_EJABBERD"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
    starttls_required: true
    backlog: 1024
modules:
  mod_disco: {}
  mod_offline: {}
  mod_ping: {}
  mod_register:
    ip_access: all
    access: register
  mod_roster: {}
$EJ_GC
EOF
  cat > "$run/cfg/ejabberdctl.cfg" <<EOF
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$run/ejabberd.pid
EJABBERD_CONFIG_PATH=$run/cfg/ejabberd.yml
INET_DIST_INTERFACE=127.0.0.1
ERL_DIST_PORT=${EJ_DIST_PORT:-4379}
EOF
  cp /etc/ejabberd/inetrc "$run/cfg/inetrc"
  chown -R ejabberd:ejabberd "$run"
  chmod 755 "$OUT"
  # Not through ejabberdctl's own `su ejabberd`: PAM would reset the fd limit to 1024 and
  # ejabberd would stop accepting at ~1000 sessions. setpriv keeps this shell's limit.
  local ej="setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME=/var/lib/ejabberd ejabberdctl -n ejabberd-bench@localhost -d $run/cfg -c $run/cfg/ejabberdctl.cfg -s $run/spool -l $run/logs"
  taskset -c 0 $ej foreground >"$run/logs/stdout.log" 2>&1 &
  STOP="$ej stop"
  wait_listen "$IP_EJABBERD" 5222 || { log "ejabberd did not listen: $(tail -5 "$run/logs/stdout.log")"; return 1; }
  # The sessions live in beam.smp, several processes below the launcher.
  PID=$(pgrep -f "beam.smp.*$run/spool" | head -1)
  [ -n "$PID" ] || { log "no beam.smp for $run"; return 1; }
  ADDR="$IP_EJABBERD:5222"
}

stop_server() {
  log "stopping $1 (pid $PID)"
  if [ "$1" = ejabberd ]; then sh -c "$STOP" >/dev/null 2>&1; fi
  kill "$PID" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$PID" 2>/dev/null
  PID=""
}

IP_TERN=${IP_TERN:-127.0.9.2}
IP_PROSODY=${IP_PROSODY:-127.0.9.1}
IP_EJABBERD=${IP_EJABBERD:-127.0.9.3}
T0=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SERVERS; do
  log "starting $s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  ADDR=""
  if ! "start_$s"; then echo "{\"target\":\"$s\",\"command\":\"start\",\"error\":\"did not start, see $OUT/$s\"}" >> "$RES"; continue; fi
  N=$N_PEER; [ "$s" = tern ] && N=$N_TERN
  G=(-server "$ADDR" -sources "$SOURCES")
  log "$s: register $N users"
  # Registration from many source addresses: tern allows 5 registrations per IP per hour.
  LOAD "$s" register register -server "$ADDR" -sources "$REG_SOURCES" -per-conn 1 -n "$N" -c 16 -ratelimit-friendly
  if [ -n "$GROUPCHAT" ]; then
    log "$s: messages, closed loop, archiving on"
    LOAD "$s" closed messages "${G[@]}" "${MSGF[@]}" -pairs "$PAIRS" -rate 0 -window 16 -duration "$MAXDUR" -pid "$PID"
    sleep 2
    log "$s: mam paging"
    LOAD "$s" mam mam "${G[@]}" -readers "$MAM_READERS" -fill "$MAM_FILL" -page 250 -rounds 2 -timeout 120s -pid "$PID"
    sleep 2
    log "$s: muc open loop, $MUC_OCC occupants, $MUC_RATE msgs/s"
    LOAD "$s" muc muc "${G[@]}" -occupants "$MUC_OCC" -senders "$MUC_SENDERS" -rate "$MUC_RATE" -duration "$DUR" -room "open@conference.$DOMAIN" -pid "$PID"
    sleep 2
    log "$s: muc closed loop"
    LOAD "$s" mucmax muc "${G[@]}" -occupants "$MUC_OCC" -senders "$MUC_SENDERS" -rate 0 -window 4 -duration "$MAXDUR" -room "max@conference.$DOMAIN" -pid "$PID"
    stop_server "$s"
    continue
  fi
  log "$s: $N idle sessions"
  LOAD "$s" sessions sessions "${G[@]}" -n "$N" -c 32 -pid "$PID" -settle 30s
  log "$s: logins"
  LOAD "$s" logins logins "${G[@]}" -n "$LOGINS" -c "$LOGIN_C" -users 200 -duration "$LOGIN_SECS" -pid "$PID"
  log "$s: messages, closed loop"
  LOAD "$s" closed messages "${G[@]}" "${MSGF[@]}" -pairs "$PAIRS" -rate 0 -window 16 -duration "$MAXDUR" -pid "$PID"
  # First a rate this server can take (70% of its closed-loop maximum, if below $RATE), then
  # $RATE itself, last: a server that cannot keep up is left with a backlog it needs minutes for.
  MAX=$(grep "\"target\":\"$s\",\"step\":\"closed\"" "$RES" | grep -o '"recv_per_sec":[0-9.]*' | cut -d: -f2 | cut -d. -f1)
  SUST=$(( ${MAX:-0} * 7 / 10 ))
  if [ "$SUST" -gt 0 ] && [ "$SUST" -lt "$RATE" ]; then
    sleep 2  # let the server finish tearing down the previous run
    log "$s: messages, open loop at $SUST/s (70% of its maximum)"
    LOAD "$s" open70 messages "${G[@]}" "${MSGF[@]}" -pairs "$PAIRS" -rate "$SUST" -duration "$DUR" -warmup 1s -pid "$PID"
  fi
  sleep 2
  log "$s: messages, open loop at $RATE/s"
  LOAD "$s" open messages "${G[@]}" "${MSGF[@]}" -pairs "$PAIRS" -rate "$RATE" -duration "$DUR" -warmup 1s -pid "$PID"
  stop_server "$s"
done

# Markdown table from results.jsonl (python3 = any; only the stdlib json module is used).
/usr/bin/python3 - "$RES" "$LOADAVG" "$(( $(date +%s) - T0 ))" "$GROUPCHAT" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    try: r = json.loads(line)
    except ValueError: continue
    rows.setdefault(r["target"], {})[r.get("step", r["command"])] = r
def g(r, *ks):
    for k in ks:
        if not isinstance(r, dict) or k not in r: return "n/a"
        r = r[k]
    return str(r)
print(f"\nLoad average at start: {sys.argv[2]}; total {sys.argv[3]} s. Server on CPU 0, ternload on CPU 1.\n")
if not sys.argv[4]:
    print("| server | sessions | KB/session | SASL | logins/s (server CPU %) | logins per server CPU-s | login p50/p99 ms "
          "| max msgs/s, closed loop (server/client CPU %) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t in rows.items():
        if "start" in t:
            print(f"| {name} | did not start | | | | | | |"); continue
        s, l, c = t.get("sessions", {}), t.get("logins", {}), t.get("closed", {})
        print(f"| {name} | {g(s,'opened')} | {g(s,'kb_per_session')} | {g(l,'mech')} "
              f"| {g(l,'logins_per_sec')} ({g(l,'server_cpu_pct')}) | {g(l,'logins_per_server_cpu_sec')} "
              f"| {g(l,'latency','p50_ms')}/{g(l,'latency','p99_ms')} "
              f"| {g(c,'recv_per_sec')} ({g(c,'server_cpu_pct')}/{g(c,'client_cpu_pct')}) |")
    print("\n| server | open loop target msgs/s | sent/s → received/s | latency p50/p90/p99/max ms | lost | server/client CPU % |")
    print("|---|---|---|---|---|---|")
    for name, t in rows.items():
        for step in ("open70", "open"):
            o = t.get(step)
            if not o: continue
            lat = o.get("latency", {})
            print(f"| {name} | {g(o,'target_rate')} | {g(o,'sent_per_sec')} → {g(o,'recv_per_sec')} "
                  f"| {g(lat,'p50_ms')}/{g(lat,'p90_ms')}/{g(lat,'p99_ms')}/{g(lat,'max_ms')} | {g(o,'lost')} "
                  f"| {g(o,'server_cpu_pct')}/{g(o,'client_cpu_pct')} |")
else:
    print("\n| server | 1:1 msgs/s with archives (server CPU %) | MAM results/s (per server CPU-s) | page p50/p99 ms "
          "| room deliveries/s at target (p50/p99 ms, us CPU each) | room max deliveries/s (p99 ms, us CPU each) | KB per occupant |")
    print("|---|---|---|---|---|---|---|")
    for name, t in rows.items():
        c, m, u, x = t.get("closed", {}), t.get("mam", {}), t.get("muc", {}), t.get("mucmax", {})
        print(f"| {name} | {g(c,'recv_per_sec')} ({g(c,'server_cpu_pct')}) | {g(m,'results_per_sec')} ({g(m,'results_per_server_cpu_sec')}) "
              f"| {g(m,'page_latency','p50_ms')}/{g(m,'page_latency','p99_ms')} "
              f"| {g(u,'deliveries_per_sec')} of {g(u,'target_rate')}x{g(u,'occupants')} ({g(u,'latency','p50_ms')}/{g(u,'latency','p99_ms')}, {g(u,'server_cpu_us_per_delivery')}) "
              f"| {g(x,'deliveries_per_sec')} ({g(x,'latency','p99_ms')}, {g(x,'server_cpu_us_per_delivery')}) | {g(u,'server_kb_per_idle_occupant')} |")
PY
echo "raw results: $RES" >&2
