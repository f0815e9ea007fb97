#!/usr/bin/python3
"""Federation scenario driven by slixmpp: two users on two servers that talk server-to-server.

Steps (RFC 6121 subscriptions, presence and messages, carried over s2s, RFC 6120 §4, XEP-0220/XEP-0178):
  alice (server A) and bob (server B) log in; alice subscribes to bob across domains, bob approves and
  subscribes back, both rosters end "both"; each sees the other's available presence; they chat both
  ways; bob logs out and alice sees his unavailable presence. Every step crosses s2s, in both directions.

Prints one JSON line per step: {"step": ..., "ok": true, ...}. On the first failure it prints
{"step": ..., "ok": false, "expected": ..., "error": ...} and exits 1. Exit 2 = bad usage/environment.
Run with Debian's python (pyenv's cannot see python3-slixmpp):
  /usr/bin/python3 federation.py --alice alice@tern.test --alice-addr 127.0.40.1:5222 \
      --bob bob@prosody.test --bob-addr 127.0.40.2:5222 --password-file pw [--bob-password-file pw2] [--trace]
"""
import argparse
import asyncio
import secrets
import sys

# The c2s scenario's client and matchers: one recording client for both scripts.
from scenario import Client, StepFailed, close_all, emit, is_chat, is_presence, is_push, run_steps


def read_pw(path, literal):
    if path:
        with open(path) as f:
            return f.read().rstrip("\n")
    return literal


def addr_of(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


async def run(args):
    A, B, T = args.alice, args.bob, args.timeout
    pw_a = read_pw(args.password_file, args.password)
    pw_b = read_pw(args.bob_password_file, args.bob_password) or pw_a
    nonce = secrets.token_hex(4)
    clients = []

    async def login(jid, pw, addr, step):
        c = Client(jid, pw, "auto")
        clients.append(c)
        c.connect(addr_of(addr), force_starttls=True)
        try:
            await asyncio.wait_for(c.online, T)
        except asyncio.TimeoutError:
            raise StepFailed(step, "session start (STARTTLS, SASL, bind)", f"no session within {T:.0f}s")
        except RuntimeError as e:
            raise StepFailed(step, "session start (STARTTLS, SASL, bind)", str(e))
        return c

    try:
        # 1. both log in (c2s on each server), empty rosters, initial presence
        a = await login(A, pw_a, args.alice_addr, "login-alice")
        emit("login-alice", jid=str(a.boundjid))
        b = await login(B, pw_b, args.bob_addr, "login-bob")
        emit("login-bob", jid=str(b.boundjid))
        for c, peer, step in ((a, B, "roster-empty-alice"), (b, A, "roster-empty-bob")):
            items = await c.fetch_roster(step, T)
            if peer in items:
                raise StepFailed(step, f"no roster item for {peer} on a fresh account", f"got {items[peer]}")
            c.send_presence()
        emit("initial-presence")

        # 2. alice subscribes to bob: the subscribe crosses s2s A -> B (RFC 6121 3.1.1-3.1.3)
        a.send_presence(pto=B, ptype="subscribe")
        await a.wait_for("subscribe-push-alice", f"a roster push for {B} subscription=none ask=subscribe",
                         is_push(B, "none", "subscribe"), timeout=T)
        await b.wait_for("subscribe-delivered-bob", f"presence type=subscribe from {A} (s2s {A} -> {B})",
                         is_presence("subscribe", A), timeout=T)
        emit("subscribe-a-to-b")

        # 3. bob approves: "subscribed" and then bob's presence cross s2s B -> A (3.1.5, 4.3.2)
        b.send_presence(pto=A, ptype="subscribed")
        await b.wait_for("approve-push-bob", f"a roster push for {A} subscription=from", is_push(A, "from"), timeout=T)
        await a.wait_for("approve-subscribed-alice", f"presence type=subscribed from {B} (s2s {B} -> {A})",
                         is_presence("subscribed", B), timeout=T)
        await a.wait_for("approve-push-alice", f"a roster push for {B} subscription=to", is_push(B, "to"), timeout=T)
        await a.wait_for("presence-bob-to-alice", f"available presence from {B}/<resource> (s2s)",
                         is_presence("available", B, full=True), timeout=T)
        emit("approved-b", alice_sees=str(b.boundjid))

        # 4. bob subscribes back, alice approves: both rosters "both", alice's presence reaches bob
        b.send_presence(pto=A, ptype="subscribe")
        await a.wait_for("subscribe-delivered-alice", f"presence type=subscribe from {B} (s2s {B} -> {A})",
                         is_presence("subscribe", B), timeout=T)
        a.send_presence(pto=B, ptype="subscribed")
        await a.wait_for("both-push-alice", f"a roster push for {B} subscription=both", is_push(B, "both"), timeout=T)
        await b.wait_for("both-push-bob", f"a roster push for {A} subscription=both", is_push(A, "both"), timeout=T)
        await b.wait_for("presence-alice-to-bob", f"available presence from {A}/<resource> (s2s)",
                         is_presence("available", A, full=True), timeout=T)
        for c, peer, step in ((a, B, "roster-both-alice"), (b, A, "roster-both-bob")):
            items = await c.fetch_roster(step, T)
            got = items.get(peer, {}).get("subscription")
            if got != "both":
                raise StepFailed(step, f"roster get: {peer} subscription=both", f"got {items.get(peer)}")
        emit("roster-both")

        # 5. chat both ways (RFC 6121 5.2), the reply to the full JID the message came from
        m1 = f"hello bob {nonce}"
        a.send_message(mto=B, mbody=m1, mtype="chat")
        _, m = await b.wait_for("chat-alice-to-bob", f"chat {m1!r} from {A}", is_chat(A, m1), timeout=T)
        m2 = f"hello alice {nonce}"
        b.send_message(mto=m["from"], mbody=m2, mtype="chat")
        await a.wait_for("chat-bob-to-alice", f"chat {m2!r} from {B}", is_chat(B, m2), timeout=T)
        emit("chat-both-ways", from_alice=str(m["from"]))

        # 6. bob logs out: his server broadcasts unavailable to alice over s2s (RFC 6121 4.5.2)
        bob_full = str(b.boundjid)
        mark = len(a.log)
        b.disconnect()
        try:
            await asyncio.wait_for(b.gone, T)
        except asyncio.TimeoutError:
            raise StepFailed("logout-bob", "the stream to close", f"still open after {T:.0f}s")
        await a.wait_for("unavailable-bob", f"unavailable presence from {bob_full} (s2s)",
                         is_presence("unavailable", B, full=True), since=mark, timeout=T)
        emit("logout-bob")

        # 7. no errors bounced to either user on the way, nothing delivered twice
        for c in (a, b):
            errs = [s for k, s in c.log if k in ("message", "presence") and s["type"] == "error"]
            if errs:
                raise StepFailed("no-errors", "no error stanzas", f"{c.boundjid.bare} got {str(errs[0])[:300]}")
            bodies = [s["body"] for k, s in c.log if k == "message" and s["body"]]
            dups = {x for x in bodies if bodies.count(x) > 1}
            if dups:
                raise StepFailed("no-duplicates", "each message delivered once", f"{c.boundjid.bare} got {dups} twice")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alice", required=True, help="bare JID on server A")
    p.add_argument("--alice-addr", required=True, help="host:port of server A's c2s (STARTTLS)")
    p.add_argument("--bob", required=True, help="bare JID on server B")
    p.add_argument("--bob-addr", required=True, help="host:port of server B's c2s (STARTTLS)")
    p.add_argument("--password", default="")
    p.add_argument("--password-file", help="alice's password (and bob's unless --bob-password*)")
    p.add_argument("--bob-password", default="")
    p.add_argument("--bob-password-file")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per step (s2s connects on first use)")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    args = p.parse_args()
    if not args.password and not args.password_file:
        print("federation.py: need --password or --password-file", file=sys.stderr)
        return 2
    return run_steps(run, args)


if __name__ == "__main__":
    sys.exit(main())
