#!/usr/bin/python3
"""Multi-user chat (XEP-0045) driven by slixmpp's xep_0045 plugin: alice creates a room with
join_muc_wait (her own presence with 110 and 201), gets the owner configuration form and submits
it (a persistent room, named), bob joins and sees alice, messages go to both, the subject is
set, carol joins asking for two messages of history and gets them with delays, then the subject;
alice kicks carol (307) with set_role and bans her (301) with set_affiliation, and carol's next
join is refused; the outcast list names her; a nick in use is a conflict.

Prints one JSON line per step, like scenario.py. Run with Debian's python:
  /usr/bin/python3 muc.py --addr 127.0.0.1:5222 --alice alice@localhost --bob bob@localhost
    --carol carol@localhost --room ward@conference.localhost --password-file pw [--trace]
"""
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout, PresenceError

from scenario import Client, StepFailed, close_all, connect_all, emit, run_steps, short_err, step_parser

NSU = "http://jabber.org/protocol/muc#user"


def codes(pres):
    x = pres.xml.find("{%s}x" % NSU)
    return sorted(s.get("code") for s in x.findall("{%s}status" % NSU)) if x is not None else []


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    T = args.timeout
    room = args.room
    a, b, c = Client(args.alice, pw, "auto"), Client(args.bob, pw, "auto"), Client(args.carol, pw, "auto")
    clients = [a, b, c]
    for cl in clients:
        for p in ("xep_0030", "xep_0045", "xep_0004", "xep_0082", "xep_0059", "xep_0313", "xep_0359"):
            cl.register_plugin(p)
    try:
        await connect_all(clients, [args.addr] * len(clients), T)

        pres, subject, occupants, history = await a["xep_0045"].join_muc_wait(room, "Alice", timeout=T)
        if codes(pres) != ["110", "201"]:
            raise StepFailed("create", "own presence with status 110 and 201 (a new room)", str(pres))
        emit("create", codes=codes(pres))

        form = await a["xep_0045"].get_room_config(room, timeout=T)
        fields = form["fields"]
        names = set(fields.keys()) if hasattr(fields, "keys") else {f["var"] for f in fields}
        for f in ("muc#roomconfig_persistentroom", "muc#roomconfig_roomname", "muc#roomconfig_whois"):
            if f not in names:
                raise StepFailed("config-form", f"{f} in the owner form", str(sorted(names)))
        form["type"] = "submit"
        form.set_values({"muc#roomconfig_persistentroom": True, "muc#roomconfig_roomname": "Ward 3",
                         "muc#roomconfig_historylength": "10"})
        await a["xep_0045"].set_room_config(room, form, timeout=T)
        emit("configure")

        pres, subject, occupants, history = await b["xep_0045"].join_muc_wait(room, "Bob", timeout=T)
        if "Alice" not in [o["from"].resource for o in occupants]:
            raise StepFailed("join", "alice among the occupants bob is told of", str(occupants))
        emit("join", occupants=[o["from"].resource for o in occupants])

        since = len(a.log)
        for i in range(3):
            b.send_message(mto=room, mbody=f"bob {i}", mtype="groupchat")
        await a.wait_for("groupchat", "bob's three messages, from the room", lambda k, st: k == "message" and st["type"] == "groupchat"
                         and st["body"] == "bob 2" and st["from"] == room + "/Bob", since=since, timeout=T)
        emit("groupchat")
        got_subject = asyncio.get_event_loop().create_future()

        def on_subject(msg):
            if msg["subject"] == "Handover at 7" and not got_subject.done():
                got_subject.set_result(msg)
        b.add_event_handler("groupchat_subject", on_subject)
        a["xep_0045"].set_subject(room, "Handover at 7")
        try:
            await asyncio.wait_for(got_subject, T)
        except asyncio.TimeoutError:
            raise StepFailed("subject", "the new subject at bob (groupchat_subject)", b.describe())
        emit("subject")

        pres, subject, occupants, history = await c["xep_0045"].join_muc_wait(room, "Carol", maxstanzas=2, timeout=T)
        if [m["body"] for m in history] != ["bob 1", "bob 2"] or subject["subject"] != "Handover at 7":
            raise StepFailed("history", "the last two messages with delays, then the subject",
                             f"{[m['body'] for m in history]}, subject {subject['subject']!r}")
        emit("history")

        # The room's archive (XEP-0313 at the room JID), asked by slixmpp's xep_0313 plugin:
        # bob's three messages from room/Bob, their ids the stanza-ids alice got.
        try:
            res = await c["xep_0313"].retrieve(jid=room, rsm={"max": 50}, timeout=T)
        except (IqError, IqTimeout) as e:
            raise StepFailed("room-archive", "the room archive's messages", short_err(e))
        got = [(r["mam_result"]["forwarded"]["stanza"]["from"].resource, r["mam_result"]["forwarded"]["stanza"]["body"])
               for r in res["mam"]["results"]]
        if got != [("Bob", "bob 0"), ("Bob", "bob 1"), ("Bob", "bob 2")]:
            raise StepFailed("room-archive", "bob 0..2 from room/Bob, in order", str(got))
        sids = [st.xml.find("{urn:xmpp:sid:0}stanza-id") for k, st in a.log[since:]
                if k == "message" and st["type"] == "groupchat" and st["body"].startswith("bob ")]
        ids = [r["mam_result"]["id"] for r in res["mam"]["results"]]
        if [x.get("id") if x is not None and x.get("by") == room else None for x in sids] != ids:
            raise StepFailed("room-archive", "result ids equal to the stanza-ids by the room alice got", f"{ids} vs {sids}")
        emit("room-archive", count=len(got))

        try:
            await b["xep_0045"].join_muc_wait(room, "Alice", timeout=T)
            raise StepFailed("conflict", "a conflict for a nick in use", "joined")
        except PresenceError as e:
            if e.condition != "conflict":
                raise StepFailed("conflict", "conflict", str(e.presence))
        emit("conflict")

        gone = asyncio.get_event_loop().create_future()

        def on_offline(pr):
            if pr["from"] == room + "/Carol" and not gone.done():
                gone.set_result(pr)
        c.add_event_handler("muc::%s::got_offline" % room, on_offline)
        await a["xep_0045"].set_role(room, "Carol", "none", reason="quiet please", timeout=T)
        try:
            kicked = await asyncio.wait_for(gone, T)
        except asyncio.TimeoutError:
            raise StepFailed("kick", "carol's own unavailable presence (muc got_offline)", c.describe())
        if "307" not in codes(kicked):
            raise StepFailed("kick", "status 307", str(kicked))
        emit("kick")
        await a["xep_0045"].set_affiliation(room, "outcast", jid=args.carol, reason="banned", timeout=T)
        try:
            await c["xep_0045"].join_muc_wait(room, "Carol", timeout=T)
            raise StepFailed("ban", "forbidden for an outcast", "joined")
        except PresenceError as e:
            if e.condition != "forbidden":
                raise StepFailed("ban", "forbidden", str(e.presence))
        outcasts = await a["xep_0045"].get_affiliation_list(room, "outcast", timeout=T)
        if args.carol not in [str(j) for j in outcasts]:
            raise StepFailed("ban", "carol in the outcast list", str(outcasts))
        emit("ban")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = step_parser(__doc__)
    p.add_argument("--addr", required=True, help="host:port of the c2s STARTTLS listener")
    p.add_argument("--alice", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--carol", required=True)
    p.add_argument("--room", required=True)
    p.add_argument("--password-file", required=True)
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
