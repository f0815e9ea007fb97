#!/usr/bin/python3
"""Group chat across servers (XEP-0045 over s2s), with slixmpp's xep_0045 plugin: alice, on the
room's server, creates an instant room; bob, a user of another server, joins it over federation,
sees alice, and each gets the other's groupchat message from the room; with --room-archive, bob
asks the room's archive (XEP-0313 at the room JID, slixmpp's xep_0313) over s2s and finds both
messages; bob leaves and alice sees him go.

Prints one JSON line per step, like scenario.py. Run with Debian's python:
  /usr/bin/python3 muc_fed.py --alice alice@a.test --alice-addr IP:PORT --password-file pa
    --bob bob@b.test --bob-addr IP:PORT --bob-password-file pb --room ward@conference.a.test
"""
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.stanzabase import ET

from scenario import Client, StepFailed, close_all, connect_all, emit, run_steps, short_err, step_parser


async def run(args):
    with open(args.password_file) as f:
        pa = f.read().rstrip("\n")
    with open(args.bob_password_file) as f:
        pb = f.read().rstrip("\n")
    T = args.timeout
    room = args.room
    a, b = Client(args.alice, pa, "auto"), Client(args.bob, pb, "auto")
    clients = [a, b]
    for cl in clients:
        for p in ("xep_0030", "xep_0045", "xep_0004", "xep_0059", "xep_0313"):
            cl.register_plugin(p)
    try:
        await connect_all(clients, [args.alice_addr, args.bob_addr], T)
        await a["xep_0045"].join_muc_wait(room, "Alice", timeout=T)
        iq = a.make_iq_set(ito=room)
        q = ET.Element("{http://jabber.org/protocol/muc#owner}query")
        ET.SubElement(q, "{jabber:x:data}x", {"type": "submit"})
        iq.append(q)
        await iq.send(timeout=T)
        emit("create")

        pres, subject, occupants, history = await b["xep_0045"].join_muc_wait(room, "Bob", timeout=T)
        if "Alice" not in [o["from"].resource for o in occupants]:
            raise StepFailed("join", "alice among the occupants bob is told of, over s2s", str(occupants))
        emit("join")

        got = {cl: asyncio.get_event_loop().create_future() for cl in clients}
        for cl, want in ((a, "from bob"), (b, "from alice")):
            def on_msg(msg, cl=cl, want=want):
                if msg["body"] == want and not got[cl].done():
                    got[cl].set_result(msg)
            cl.add_event_handler("groupchat_message", on_msg)
        b.send_message(mto=room, mbody="from bob", mtype="groupchat")
        a.send_message(mto=room, mbody="from alice", mtype="groupchat")
        for cl, who in ((a, "alice"), (b, "bob")):
            try:
                await asyncio.wait_for(got[cl], T)
            except asyncio.TimeoutError:
                raise StepFailed("groupchat", f"the other's message at {who}", cl.describe())
        emit("groupchat")

        if args.room_archive:
            try:
                res = await b["xep_0313"].retrieve(jid=room, rsm={"max": 20}, timeout=T)
            except (IqError, IqTimeout) as e:
                raise StepFailed("room-archive", "the room archive's messages, over s2s", short_err(e))
            bodies = sorted(r["mam_result"]["forwarded"]["stanza"]["body"] for r in res["mam"]["results"])
            if bodies != ["from alice", "from bob"]:
                raise StepFailed("room-archive", "both messages in the room archive, asked over s2s", str(bodies))
            emit("room-archive", count=len(bodies))

        gone = asyncio.get_event_loop().create_future()
        a.add_event_handler("muc::%s::got_offline" % room, lambda pr: gone.done() or gone.set_result(pr))
        b["xep_0045"].leave_muc(room, "Bob")
        try:
            await asyncio.wait_for(gone, T)
        except asyncio.TimeoutError:
            raise StepFailed("leave", "bob's unavailable presence at alice", a.describe())
        emit("leave")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = step_parser(__doc__)
    p.add_argument("--alice", required=True)
    p.add_argument("--alice-addr", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--bob-addr", required=True)
    p.add_argument("--bob-password-file", required=True)
    p.add_argument("--room", required=True)
    p.add_argument("--room-archive", action="store_true", help="also ask the room's archive (the room's server keeps one)")
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
