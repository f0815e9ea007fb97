#!/usr/bin/python3
"""A slixmpp bot written the common way: log in, send one message, disconnect.

It checks what docs/clients.md tells slixmpp <= 1.8.3 users (Debian 12's python3-slixmpp):
that slixmpp knows only the tls-unique channel binding, which TLS 1.3 does not define (RFC 9266),
so against a server that offers SCRAM-*-PLUS its first attempts fail, and what to do about it.

  --pattern failed_auth      disconnect on the first failed_auth event (the common bot pattern)
  --pattern failed_all_auth  disconnect only when every mechanism failed (slixmpp's own event)
  --no-channel-binding       apply the workaround of docs/clients.md (the lines between the markers)

Prints one JSON line: {"step": "done", "ok": true, "mechanism": ..., "failed_auth": [...]} when the
session started, or {"step": "login", "ok": false, ...} when it did not; exit 0 or 1. Exit 2 = bad usage.
  /usr/bin/python3 bot.py --addr 127.0.0.5:5222 --jid alice@localhost --to bob@localhost \
      --password-file pw [--direct-tls] [--pattern failed_auth] [--no-channel-binding]
"""
import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp


class Bot(slixmpp.ClientXMPP):
    def __init__(self, jid, password, to, pattern, workaround):
        super().__init__(jid, password)
        if workaround:
            # --- docs/clients.md: slixmpp <= 1.8.3 workaround (begin) ---
            # slixmpp 1.8 binds only with tls-unique, undefined on TLS 1.3 (RFC 9266): turn its
            # channel binding off (GS2 flag 'n') and leave the -PLUS mechanisms aside.
            fm = self["feature_mechanisms"]
            credentials = fm.sasl_callback

            def without_channel_binding(required, optional):
                creds = credentials(required, optional)
                creds.pop("channel_binding", None)
                return creds

            fm.sasl_callback = without_channel_binding
            fm.use_mechs = {"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"}
            # --- docs/clients.md: slixmpp <= 1.8.3 workaround (end) ---
        self.ssl_context.check_hostname = False  # the test servers' certificates are self-signed
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.to, self.failures, self.started = to, [], False
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler(pattern, lambda *_: self.disconnect())

    def on_failed_auth(self, stanza):
        mech = self["feature_mechanisms"].mech
        self.failures.append({"mechanism": mech.name if mech else None,
                              "condition": stanza["condition"], "text": stanza["text"]})

    async def on_start(self, _):
        self.started = True
        self.send_message(mto=self.to, mbody="hello from a slixmpp bot", mtype="chat")
        self.disconnect()

    def mechanism(self):
        mech = self["feature_mechanisms"].mech
        return mech.name if mech else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True, help="host:port of the c2s listener")
    p.add_argument("--jid", required=True)
    p.add_argument("--to", required=True, help="where the bot sends its message")
    p.add_argument("--password-file", required=True)
    p.add_argument("--direct-tls", action="store_true", help="TLS from the first byte (XEP-0368)")
    p.add_argument("--pattern", choices=["failed_auth", "failed_all_auth"], default="failed_auth")
    p.add_argument("--no-channel-binding", action="store_true", help="apply docs/clients.md's workaround")
    p.add_argument("--json-out", help="also write the result line to this file")
    p.add_argument("--trace", action="store_true", help="slixmpp debug log on stderr")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.trace else logging.WARNING, stream=sys.stderr)
    try:
        with open(args.password_file) as f:
            password = f.read().strip()
        host, port = args.addr.rsplit(":", 1)
    except (OSError, ValueError) as e:
        print(f"bot.py: {e}", file=sys.stderr)
        return 2
    bot = Bot(args.jid, password, args.to, args.pattern, args.no_channel_binding)
    bot.connect((host, int(port)), use_ssl=args.direct_tls, force_starttls=not args.direct_tls,
                disable_starttls=args.direct_tls)
    try:
        bot.loop.run_until_complete(asyncio.wait_for(bot.disconnected, 30))
    except asyncio.TimeoutError:
        pass
    out = {"mechanism": bot.mechanism(), "failed_auth": bot.failures}
    if bot.started:
        line = {"step": "done", "ok": True, **out}
    else:
        line = {"step": "login", "ok": False, "expected": "a session", "error": "no session started", **out}
    print(json.dumps(line), flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(line, f)
    return 0 if bot.started else 1


if __name__ == "__main__":
    sys.exit(main())
