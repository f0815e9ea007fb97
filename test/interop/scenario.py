#!/usr/bin/python3
"""Roster, presence, chat and offline-delivery scenario driven by slixmpp (an independent client).

Steps (RFC 6120 SASL/bind, RFC 6121 subscriptions/presence/messages, XEP-0203 delayed delivery):
  alice and bob log in with SCRAM (the mechanism used is asserted), alice subscribes to bob, bob approves
  and subscribes back, both rosters end "both" (checked via roster pushes and a roster get), each sees the
  other's presence, they chat both ways, bob logs out, alice sends 3 messages, bob logs back in with initial
  presence and gets all 3 in order with <delay/>, then bob unsubscribes.

Prints one JSON line per step: {"step": ..., "ok": true, ...}. On the first failure it prints
{"step": ..., "ok": false, "expected": ..., "error": ...} and exits 1. Exit 2 = bad usage/environment.
Run with Debian's python (pyenv's cannot see python3-slixmpp):
  /usr/bin/python3 scenario.py --addr 127.0.0.5:5222 --alice alice@localhost --bob bob@localhost \
      --password-file pw [--mech SCRAM-SHA-256] [--direct-tls] [--trace]
"""
import argparse
import asyncio
import json
import logging
import secrets
import ssl
import sys
import time
import traceback

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_DELAY = "{urn:xmpp:delay}delay"


class StepFailed(Exception):
    def __init__(self, step, expected, error):
        super().__init__(f"{step}: expected {expected}; {error}")
        self.step, self.expected, self.error = step, expected, error


def emit(step, **kw):
    print(json.dumps({"step": step, "ok": True, **kw}, default=str), flush=True)


class Client(slixmpp.ClientXMPP):
    """A client that records every message, presence and roster push it receives, in order."""

    def __init__(self, jid, password, mech, channel_binding=False):
        super().__init__(jid, password, sasl_mech=None if mech == "auto" else mech)
        if not channel_binding:
            # slixmpp 1.8.3 knows only tls-unique, which TLS 1.3 does not define (RFC 9266), yet
            # claims it anyway: it would pick -PLUS with bad data, or send GS2 flag 'y' that a
            # server offering -PLUS must reject as a downgrade (RFC 5802 §6). Act as a client
            # without channel binding instead (GS2 'n'), which every server must accept.
            fm = self["feature_mechanisms"]
            default = fm.sasl_callback

            def no_cb(required, optional):
                creds = default(required, optional)
                if "channel_binding" in creds:
                    creds["channel_binding"] = None
                return creds
            fm.sasl_callback = no_cb
            if mech == "auto":
                # slixmpp would still pick a -PLUS name (its binding data is optional) and send
                # GS2 'n' with it, which is malformed; offer it only the plain variants.
                fm.use_mechs = {"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
        self.ssl_context.check_hostname = False  # the server's certificate is self-signed
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.auto_authorize = None  # the scenario answers subscription requests itself
        self.auto_subscribe = False
        self.register_plugin("xep_0203")  # delayed delivery stanza interface
        loop = asyncio.get_event_loop()
        self.online = loop.create_future()
        self.gone = loop.create_future()
        self.log = []  # (kind, stanza) in arrival order: "message", "presence", "push", "error"
        self.changed = asyncio.Event()
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("message", lambda m: self._record("message", m))
        self.add_event_handler("presence", lambda p: self._record("presence", p))
        self.add_event_handler("roster_update", self._on_roster)
        self.add_event_handler("stream_error", lambda e: self._record("stream_error", e))

    def _record(self, kind, stanza):
        self.log.append((kind, stanza))
        self.changed.set()

    def _on_roster(self, iq):
        if iq["type"] == "set":  # a push; results of our own gets also raise roster_update
            self._record("push", iq)

    def _on_start(self, _):
        if not self.online.done():
            self.online.set_result(True)

    def _on_failed_auth(self, stanza):
        if not self.online.done():
            self.online.set_exception(RuntimeError(f"SASL failure: {stanza['condition'] or stanza}"))

    def _on_disconnected(self, reason):
        if not self.online.done():
            self.online.set_exception(RuntimeError(f"disconnected before session start: {reason}"))
        if not self.gone.done():
            self.gone.set_result(reason)

    def mechanism(self):
        mech = self["feature_mechanisms"].mech
        return mech.name if mech else None

    async def wait_for(self, step, expected, pred, since=0, timeout=10.0):
        """Return (index, stanza) of the first logged event from `since` on that satisfies pred(kind, stanza)."""
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.log):
                kind, st = self.log[i]
                if pred(kind, st):
                    return i, st
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed(step, expected, f"not received within {timeout:.0f}s; {self.describe(since)}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def describe(self, since=0):
        got = [f"{k}:{short(s)}" for k, s in self.log[since:]]
        return f"{self.boundjid.bare} received {len(got)} event(s): " + ("; ".join(got[-12:]) or "none")

    async def fetch_roster(self, step, timeout):
        iq = self.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        try:
            resp = await iq.send(timeout=timeout)
        except (IqError, IqTimeout) as e:
            raise StepFailed(step, "a roster result (RFC 6121 2.1.3)", f"got {type(e).__name__}: {short_err(e)}")
        return {str(j): dict(v) for j, v in resp["roster"]["items"].items()}


def short(st):
    s = str(st)
    return s if len(s) <= 300 else s[:300] + "..."


def short_err(e):
    iq = getattr(e, "iq", None)
    return short(iq) if iq is not None else str(e)


def is_presence(ptype, frm, full=None):
    """Match a presence of type ptype from the bare JID frm (and, if full, from a full JID)."""
    def pred(kind, st):
        if kind != "presence" or st["type"] != ptype or st["from"].bare != frm:
            return False
        return bool(st["from"].resource) if full else True
    return pred


def is_push(item, subscription, ask=None):
    def pred(kind, st):
        if kind != "push":
            return False
        for j, v in st["roster"]["items"].items():
            if str(j) == item and v["subscription"] == subscription and (ask is None or v["ask"] == ask):
                return True
        return False
    return pred


def is_chat(frm, body):
    return lambda kind, st: kind == "message" and st["body"] == body and st["from"].bare == frm


async def run(args):
    pw = args.password
    if args.password_file:
        with open(args.password_file) as f:
            pw = f.read().rstrip("\n")
    host, port = args.addr.rsplit(":", 1)
    addr = (host, int(port))
    T = args.timeout
    A, B = args.alice, args.bob
    nonce = secrets.token_hex(4)
    clients = []

    async def deviable(step, awaitable):
        """Run a check that a reference server is known to fail (--known-deviation STEP): report, go on."""
        try:
            return await awaitable
        except StepFailed as e:
            if step not in args.known_deviation:
                raise
            emit(step, deviation=f"known deviation of this server: expected {e.expected}; {e.error}")

    async def login(jid, step):
        c = Client(jid, pw, args.mech, args.channel_binding)
        clients.append(c)
        c.connect(addr, use_ssl=args.direct_tls, force_starttls=not args.direct_tls,
                  disable_starttls=args.direct_tls)
        try:
            await asyncio.wait_for(c.online, T)
        except asyncio.TimeoutError:
            raise StepFailed(step, "session start (TLS, SASL, bind)", f"no session within {T:.0f}s")
        except RuntimeError as e:
            raise StepFailed(step, "session start (TLS, SASL, bind)", str(e))
        mech = c.mechanism()
        want = "SCRAM-SHA-" if args.mech == "auto" else args.mech
        if not mech or not (mech == want or (args.mech == "auto" and mech.startswith(want))):
            raise StepFailed(step, f"SASL mechanism {want}{'*' if args.mech == 'auto' else ''}", f"used {mech}")
        return c

    try:
        # 1. log in with SCRAM, bind, initial presence, empty roster
        a = await login(A, "login-alice")
        emit("login-alice", jid=str(a.boundjid), mechanism=a.mechanism(), direct_tls=args.direct_tls)
        b = await login(B, "login-bob")
        emit("login-bob", jid=str(b.boundjid), mechanism=b.mechanism())
        for c, peer, step in ((a, B, "roster-empty-alice"), (b, A, "roster-empty-bob")):
            items = await c.fetch_roster(step, T)
            if peer in items:
                raise StepFailed(step, f"no roster item for {peer} on a fresh account", f"got {items[peer]}")
            c.send_presence()
            emit(step, items=len(items))

        # 2. alice subscribes to bob (RFC 6121 3.1.1-3.1.2)
        a.send_presence(pto=B, ptype="subscribe")
        await a.wait_for("subscribe-push-alice", f"a roster push for {B} subscription=none ask=subscribe",
                         is_push(B, "none", "subscribe"), timeout=T)
        emit("subscribe-push-alice")
        await b.wait_for("subscribe-delivered-bob", f"presence type=subscribe from {A}",
                         is_presence("subscribe", A), timeout=T)
        emit("subscribe-delivered-bob")

        # 3. bob approves (3.1.5): pushes, "subscribed" to alice, then bob's available presence to alice
        b.send_presence(pto=A, ptype="subscribed")
        await b.wait_for("approve-push-bob", f"a roster push for {A} subscription=from",
                         is_push(A, "from"), timeout=T)
        await a.wait_for("approve-push-alice", f"a roster push for {B} subscription=to",
                         is_push(B, "to"), timeout=T)
        await a.wait_for("approve-subscribed-alice", f"presence type=subscribed from {B}",
                         is_presence("subscribed", B), timeout=T)
        await a.wait_for("presence-bob-to-alice", f"available presence from {B}/<resource>",
                         is_presence("available", B, full=True), timeout=T)
        emit("approved", alice_sees=str(b.boundjid))

        # 4. bob subscribes back and alice approves: both rosters end "both"
        b.send_presence(pto=A, ptype="subscribe")
        await a.wait_for("subscribe-back-delivered-alice", f"presence type=subscribe from {B}",
                         is_presence("subscribe", B), timeout=T)
        a.send_presence(pto=B, ptype="subscribed")
        await a.wait_for("both-push-alice", f"a roster push for {B} subscription=both",
                         is_push(B, "both"), timeout=T)
        await b.wait_for("both-push-bob", f"a roster push for {A} subscription=both",
                         is_push(A, "both"), timeout=T)
        await b.wait_for("presence-alice-to-bob", f"available presence from {A}/<resource>",
                         is_presence("available", A, full=True), timeout=T)
        for c, peer, step in ((a, B, "roster-both-alice"), (b, A, "roster-both-bob")):
            items = await c.fetch_roster(step, T)
            got = items.get(peer, {}).get("subscription")
            if got != "both":
                raise StepFailed(step, f"roster get: {peer} subscription=both", f"got {items.get(peer)}")
        emit("roster-both")

        # 5. chat both ways (RFC 6121 5.2)
        m1 = f"hello bob {nonce}"
        a.send_message(mto=B, mbody=m1, mtype="chat")
        _, m = await b.wait_for("chat-alice-to-bob", f"chat {m1!r} from {A}", is_chat(A, m1), timeout=T)
        m2 = f"hello alice {nonce}"
        b.send_message(mto=m["from"], mbody=m2, mtype="chat")
        await a.wait_for("chat-bob-to-alice", f"chat {m2!r} from {B}", is_chat(B, m2), timeout=T)
        emit("chat-both-ways")

        # 6. bob goes offline; alice sees him leave (RFC 6121 4.5.2)
        bob_full = str(b.boundjid)
        mark = len(a.log)
        b.disconnect()
        try:
            await asyncio.wait_for(b.gone, T)
        except asyncio.TimeoutError:
            raise StepFailed("logout-bob", "the stream to close", f"still open after {T:.0f}s")
        await a.wait_for("unavailable-bob", f"unavailable presence from {bob_full}",
                         is_presence("unavailable", B, full=True), since=mark, timeout=T)
        emit("logout-bob")

        # 7. alice sends three messages to offline bob; a roster get is a barrier proving they were processed
        bodies = [f"offline {i}/3 {nonce}" for i in (1, 2, 3)]
        for body in bodies:
            a.send_message(mto=B, mbody=body, mtype="chat")
        await a.fetch_roster("offline-send", T)
        errs = [s for k, s in a.log if k == "message" and s["type"] == "error"]
        if errs:
            raise StepFailed("offline-send", "messages to an offline contact stored (RFC 6121 8.5.2.2.1)",
                             f"got error: {short(errs[0])}")
        emit("offline-send", count=3)

        # 8. bob logs back in with initial presence: the 3 messages, in order, with XEP-0203 <delay/>
        b2 = await login(B, "relogin-bob")
        items = await b2.fetch_roster("relogin-roster-bob", T)  # also makes b2 an interested resource (2.1.6)
        if items.get(A, {}).get("subscription") != "both":
            raise StepFailed("relogin-roster-bob", f"roster get: {A} subscription=both", f"got {items.get(A)}")
        b2.send_presence()
        got, since = [], 0
        while len(got) < 3:
            i, m = await b2.wait_for("offline-delivery", f"3 stored messages {bodies} on initial presence",
                                     lambda k, s: k == "message" and s["type"] != "error" and bool(s["body"]),
                                     since=since, timeout=T)
            got.append(m)
            since = i + 1
        if [m["body"] for m in got] != bodies:
            raise StepFailed("offline-order", f"bodies in send order {bodies}", f"got {[m['body'] for m in got]}")
        for m in got:
            d = m.xml.find(NS_DELAY)
            if d is None or not d.get("stamp"):
                raise StepFailed("offline-delay", "a <delay xmlns='urn:xmpp:delay' stamp=.../> (XEP-0203)",
                                 f"got {short(m)}")
            if m["from"].bare != A:
                raise StepFailed("offline-from", f"from {A}", f"got {m['from']}")
        emit("offline-delivery", stamps=[m.xml.find(NS_DELAY).get("stamp") for m in got],
             delay_from=got[0].xml.find(NS_DELAY).get("from"))

        # 9. bob unsubscribes from alice (RFC 6121 3.3): bob's item -> from, alice's -> to,
        #    alice gets the unsubscribe, bob gets alice's unavailable presence
        mark_a, mark_b = len(a.log), len(b2.log)
        b2.send_presence(pto=A, ptype="unsubscribe")
        await b2.wait_for("unsubscribe-push-bob", f"a roster push for {A} subscription=from",
                          is_push(A, "from"), since=mark_b, timeout=T)
        await a.wait_for("unsubscribe-delivered-alice", f"presence type=unsubscribe from {B}",
                         is_presence("unsubscribe", B), since=mark_a, timeout=T)
        await a.wait_for("unsubscribe-push-alice", f"a roster push for {B} subscription=to",
                         is_push(B, "to"), since=mark_a, timeout=T)
        await deviable("unsubscribe-unavailable-bob", b2.wait_for(
            "unsubscribe-unavailable-bob", f"unavailable presence from {A}/<resource> (RFC 6121 3.3.3)",
            is_presence("unavailable", A, full=True), since=mark_b,
            timeout=min(T, 3) if "unsubscribe-unavailable-bob" in args.known_deviation else T))
        emit("unsubscribe")

        # 10. nothing delivered twice
        for c in (a, b2):
            bodies_seen = [s["body"] for k, s in c.log if k == "message" and s["body"]]
            dups = {x for x in bodies_seen if bodies_seen.count(x) > 1}
            if dups:
                raise StepFailed("no-duplicates", "each message delivered once", f"{c.boundjid.bare} got {dups} twice")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True, help="host:port of the c2s listener (STARTTLS, or direct TLS)")
    p.add_argument("--alice", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--password", default="")
    p.add_argument("--password-file", help="file holding the password shared by both accounts")
    p.add_argument("--mech", default="auto", help="auto (any SCRAM-SHA-*) | SCRAM-SHA-1 | SCRAM-SHA-256 | ...")
    p.add_argument("--direct-tls", action="store_true", help="TLS from the first byte (XEP-0368)")
    p.add_argument("--channel-binding", action="store_true",
                   help="let slixmpp use its tls-unique channel binding (broken on TLS 1.3)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per step")
    p.add_argument("--known-deviation", action="append", default=[], metavar="STEP",
                   help="report this step's failure but continue (for reference servers that deviate)")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    args = p.parse_args()
    if not args.password and not args.password_file:
        print("scenario.py: need --password or --password-file", file=sys.stderr)
        return 2
    return run_steps(run, args)


async def connect_all(clients, addrs, timeout):
    """Connect each client to its host:port (STARTTLS), wait for its session and send initial
    presence; then emit the "login" step."""
    for c, addr in zip(clients, addrs):
        host, port = addr.rsplit(":", 1)
        c.connect((host, int(port)), force_starttls=True)
    for c in clients:
        try:
            await asyncio.wait_for(c.online, timeout)
        except (asyncio.TimeoutError, RuntimeError) as e:
            raise StepFailed("login", "session start (TLS, SASL, bind)", repr(e))
        c.send_presence()
    emit("login")


def step_parser(doc):
    """An argument parser for a step script, with --timeout and --trace."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per step")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    return p


def run_steps(run, args):
    """Run a step script's coroutine run(args) with logging set up (--trace: every SEND/RECV to
    stderr); a failure becomes one JSON line on stdout and exit status 1."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # "Task was destroyed" noise at exit
    if args.trace:
        logging.getLogger("slixmpp.xmlstream.xmlstream").setLevel(logging.DEBUG)
    loop = asyncio.get_event_loop()
    try:
        return loop.run_until_complete(run(args))
    except StepFailed as e:
        print(json.dumps({"step": e.step, "ok": False, "expected": e.expected, "error": e.error}), flush=True)
        print(f"FAIL {e.step}: expected {e.expected}; {e.error}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug in this script or an unexpected client state: still one JSON line
        traceback.print_exc()
        print(json.dumps({"step": "script", "ok": False, "expected": "no exception", "error": repr(e)}), flush=True)
        return 1


async def close_all(clients):
    """End every client's stream that is still connected."""
    for c in clients:
        if c.transport is not None:
            c.disconnect(wait=1)
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
