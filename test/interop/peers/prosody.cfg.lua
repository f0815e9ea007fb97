-- Prosody 0.12 (Debian bookworm) as a federation peer of tern, loopback only (test/e2e, federation tests).
-- Adapted from shared/notes/peers/prosody.cfg.lua. Driven by env vars set by test/e2e (startProsodyPeer):
--   PEER_RUN     run directory: data, logs, certs/<domain>.{crt,key}, hosts
--   PEER_DOMAIN  the VirtualHost (e.g. prosody.test)
--   PEER_IP      its own loopback address; s2s listens there on 5269, the port peers dial without SRV
--   PEER_C2S     c2s (STARTTLS) port
--   PEER_S2S_TIMEOUT  seconds to establish an outgoing s2s connection (default 10)
--   PEER_CAFILE  unset: self-signed certificate, dialback (XEP-0220) over TLS.
--                set: certificates from this test CA only: s2s_secure_auth, no dialback module, so
--                federation can only succeed through SASL EXTERNAL (XEP-0178).
local run = assert(os.getenv("PEER_RUN"), "set PEER_RUN to a run directory")
local domain = assert(os.getenv("PEER_DOMAIN"), "set PEER_DOMAIN")
local ip = os.getenv("PEER_IP") or "127.0.0.1"
local cafile = os.getenv("PEER_CAFILE")

run_as_root = true             -- CI runs as root; Prosody refuses otherwise
pidfile = run.."/prosody.pid"
data_path = run.."/data"
log = { debug = run.."/prosody.log" }  -- full stanza trace, shown by the Go test on failure
certificates = run.."/certs"          -- <domain>.crt/.key (also where Prosody looks for others)

interfaces = { ip }
local_interfaces = { ip }
-- Name resolution without DNS: libunbound reads this hosts file ("127.0.41.1 tern.test");
-- the SRV lookup fails and Prosody falls back to the A record on port 5269.
unbound = { hoststxt = run.."/hosts" }
c2s_ports = { tonumber(os.getenv("PEER_C2S") or 5222) }
c2s_direct_tls_ports = { }
s2s_ports = { 5269 }
http_ports = { }
https_ports = { }

local modules = {
  "roster"; "saslauth"; "tls"; "disco"; "ping";
}
if not cafile then table.insert(modules, "dialback") end
modules_enabled = modules
modules_disabled = { "posix"; "offline" }  -- foreground; offline storage would hide lost stanzas

c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = cafile ~= nil   -- true: a peer certificate must chain to PEER_CAFILE
s2s_timeout = tonumber(os.getenv("PEER_S2S_TIMEOUT") or 10)  -- seconds to connect to a peer
authentication = "internal_hashed"
storage = "internal"
network_settings = { nagle = false }   -- Nagle adds ~40 ms per request/response round trip
ssl = {
  certificate = run.."/certs/"..domain..".crt";
  key = run.."/certs/"..domain..".key";
  cafile = cafile;                -- nil: system store (never trusts the self-signed test peers)
}

VirtualHost (domain)
  ssl = {
    certificate = run.."/certs/"..domain..".crt";
    key = run.."/certs/"..domain..".key";
    cafile = cafile;
  }

-- PEER_MUC=1: a group chat service at conference.<domain> (TestMUCFederation: a tern user in a
-- Prosody room).
if os.getenv("PEER_MUC") == "1" then
  Component ("conference."..domain) "muc"
end
