#!/usr/bin/python3
"""Stream Management (XEP-0198) scenario driven by slixmpp's xep_0198 plugin (an independent client).

Steps: alice (no resumption) and bob (resumption) log in with SM enabled after bind; the server
offers resumption to bob only. alice sends bob 10 chat messages, bob gets them in order, and
alice's request for an ack comes back acknowledging everything she sent. Bob's connection is cut,
alice writes to him meanwhile, and bob reconnects: slixmpp resumes the session (<resumed/>), gets
the message written during the outage and later ones, and nothing twice. Then alice stops
answering the server's ack requests (a phone whose network is failing), bob sends her 2 messages,
she receives them, and her connection is cut: with no resumption, when alice logs in again both
unacknowledged messages come back (offline storage, with XEP-0203 <delay/>), and nothing else.

Prints one JSON line per step, like scenario.py (whose client and helpers it uses). Run with
Debian's python: /usr/bin/python3 sm.py --addr 127.0.0.5:5222 --alice alice@localhost
  --bob bob@localhost --password-file pw [--trace]
"""
import argparse
import asyncio
import sys
import time

from scenario import NS_DELAY, Client, StepFailed, close_all, emit, is_chat, run_steps


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    host, port = args.addr.rsplit(":", 1)
    addr = (host, int(port))
    T = args.timeout
    A, B = args.alice, args.bob
    clients = []

    async def login(jid, step, resume):
        c = Client(jid, pw, "auto")
        c.register_plugin("xep_0198")
        c.register_plugin("xep_0199")
        c["xep_0198"].allow_resume = resume
        enabled = asyncio.get_event_loop().create_future()
        c.add_event_handler("sm_enabled", lambda st: enabled.done() or enabled.set_result(st))
        c.add_event_handler("sm_failed", lambda st: enabled.done() or enabled.set_exception(RuntimeError(f"<failed/>: {st}")))
        clients.append(c)
        c.connect(addr, force_starttls=True)
        try:
            await asyncio.wait_for(c.online, T)
            st = await asyncio.wait_for(enabled, T)
        except asyncio.TimeoutError:
            raise StepFailed(step, "session start and <enabled xmlns='urn:xmpp:sm:3'/> (XEP-0198 3)", f"none within {T:.0f}s")
        except RuntimeError as e:
            raise StepFailed(step, "session start and <enabled/>", str(e))
        offered = st["resume"] and bool(st["id"])
        if offered != resume:
            raise StepFailed(step, f"resumption offered only when asked for (asked: {resume})", f"got {st}")
        c.send_presence()
        return c

    async def until(step, expected, cond):
        deadline = time.monotonic() + T
        while not cond():
            if time.monotonic() > deadline:
                raise StepFailed(step, expected, "not within the step's time-out")
            await asyncio.sleep(0.05)

    async def barrier(c):
        """The server answers c's ping after everything c sent before (RFC 6120 10.1)."""
        await c["xep_0199"].ping(jid=c.boundjid.domain, timeout=T)

    def bodies_of(c):
        return [s["body"] for k, s in c.log if k == "message" and s["body"]]

    try:
        a = await login(A, "sm-enabled-alice", resume=False)
        b = await login(B, "sm-enabled-bob", resume=True)
        emit("sm-enabled", alice=str(a.boundjid), bob=str(b.boundjid), bob_resumable=True)

        bodies = [f"acked {i}" for i in range(10)]
        for body in bodies:
            a.send_message(mto=b.boundjid, mbody=body, mtype="chat")
        since = 0
        for body in bodies:
            since, _ = await b.wait_for("chat-in-order", f"message {body!r} after the earlier ones", is_chat(A, body), since=since, timeout=T)
        emit("chat-in-order", count=len(bodies))

        sm = a["xep_0198"]
        sm.request_ack()
        await until("acks-alice", "the server's <a h=.../> acknowledging every stanza alice sent (XEP-0198 4)",
                    lambda: not sm.unacked_queue and sm.last_ack == sm.seq)
        emit("acks-alice", h=sm.last_ack)

        # Resumption (5): bob's link dies, alice writes meanwhile, bob reconnects and resumes.
        resumed = asyncio.get_event_loop().create_future()
        b.add_event_handler("session_resumed", lambda st: resumed.done() or resumed.set_result(st))
        b.transport.abort()
        a.send_message(mto=b.boundjid, mbody="during the outage", mtype="chat")
        await barrier(a)
        b.connect(addr, force_starttls=True)
        try:
            await asyncio.wait_for(resumed, T)
        except asyncio.TimeoutError:
            raise StepFailed("resumed-bob", "<resumed/> after reconnecting (XEP-0198 5)", f"none within {T:.0f}s")
        await b.wait_for("resumed-bob", "the message sent during the outage, after <resumed/>",
                         is_chat(A, "during the outage"), timeout=T)
        a.send_message(mto=b.boundjid, mbody="after resuming", mtype="chat")
        await b.wait_for("resumed-bob", "a message to the same full JID after resuming", is_chat(A, "after resuming"), timeout=T)
        await barrier(b)
        seen = bodies_of(b)
        dups = sorted({x for x in seen if seen.count(x) > 1})
        if dups:
            raise StepFailed("resumed-bob", "nothing the client had acknowledged (its h on <resume/>) sent again", f"got {dups} twice")
        emit("resumed-bob", jid=str(b.boundjid))

        # No resumption: alice acknowledges what she has, then stops acking and her link dies;
        # what she had not acknowledged comes with her next login.
        a["xep_0198"].send_ack()
        await barrier(a)
        a.remove_handler("Stream Management Request Ack")
        mark = len(a.log)
        lost = ["unacked 1", "unacked 2"]
        for body in lost:
            b.send_message(mto=a.boundjid, mbody=body, mtype="chat")
        for body in lost:
            await a.wait_for("unacked-received", f"message {body!r}", is_chat(B, body), since=mark, timeout=T)
        a.transport.abort()
        emit("connection-cut", unacked=len(lost))

        a2 = await login(A, "relogin-alice", resume=False)
        since = 0
        for body in lost:
            since, m = await a2.wait_for("unacked-redelivered", f"unacknowledged message {body!r} again, in order",
                                         is_chat(B, body), since=since, timeout=T)
            if m.xml.find(NS_DELAY) is None:
                raise StepFailed("unacked-redelivered", "a <delay/> (XEP-0203) on a message stored while alice was away", f"got {m}")
        await barrier(a2)
        if len(bodies_of(a2)) != len(lost):
            raise StepFailed("unacked-redelivered", "only the unacknowledged messages", f"got {bodies_of(a2)}")
        emit("unacked-redelivered", count=len(lost))
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True, help="host:port of the c2s STARTTLS listener")
    p.add_argument("--alice", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--password-file", required=True, help="file holding the password shared by both accounts")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per step")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    args = p.parse_args()
    return run_steps(run, args)


if __name__ == "__main__":
    sys.exit(main())
