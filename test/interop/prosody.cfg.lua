-- Prosody 0.12 (Debian bookworm) as the reference server for tern's e2e tests (the "oracle"):
-- the same client scripts and raw rows run against it and against tern. Loopback only.
-- Driven by env vars set by test/e2e (startProsody): PEER_RUN, PEER_DOMAIN, PEER_IP, PEER_C2S, PEER_C2S_TLS.
local run = assert(os.getenv("PEER_RUN"), "set PEER_RUN to a run directory")
local domain = os.getenv("PEER_DOMAIN") or "localhost"
local ip = os.getenv("PEER_IP") or "127.0.0.1"

run_as_root = true            -- CI containers run as root; Prosody refuses otherwise
pidfile = run.."/prosody.pid"
data_path = run.."/data"
log = { debug = run.."/prosody.log" }  -- full stanza trace, shown by the Go test on failure
certificates = run              -- <domain>.crt/.key: found for STARTTLS and direct TLS (SNI)

interfaces = { ip }
local_interfaces = { ip }
c2s_ports = { tonumber(os.getenv("PEER_C2S") or 5222) }
c2s_direct_tls_ports = { tonumber(os.getenv("PEER_C2S_TLS") or 5223) }
c2s_direct_tls_interfaces = { ip }
s2s_ports = { }
http_ports = { }
https_ports = { }

modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "time"; "uptime";
  "carbons"; "blocklist"; "register"; "private";
}
modules_disabled = { "posix"; "s2s" }  -- foreground; no federation needed here
-- mod_offline is loaded by default (offline storage with XEP-0203 delay stamps)

allow_registration = false
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
network_settings = { nagle = false }   -- Nagle adds ~40 ms per request/response round trip
c2s_stanza_size_limit = 256 * 1024     -- Prosody's default, stated so the oversized row is explicit

VirtualHost (domain)
  ssl = { certificate = run.."/"..domain..".crt"; key = run.."/"..domain..".key"; }
