#!/usr/bin/python3
"""Message Archive Management (XEP-0313) driven by slixmpp's xep_0313 plugin: alice sends bob
25 chat messages; bob gets each with a stanza-id by his account; then bob asks his archive
with the plugin: one query with a filter on alice (RSM max 100: all 25, in order, result ids the
stanza-ids he was given), the plugin's iterate paging forward 10 at a time and backward (RSM
before), the query form (with, start, end, #extended fields), the archive's metadata (first and
last ids), a start/end window; and alice's archive holds what she sent. A query of another user's
archive is an error.

Prints one JSON line per step, like scenario.py. Run with Debian's python:
  /usr/bin/python3 mam.py --addr 127.0.0.1:5222 --alice alice@localhost --bob bob@localhost
    --password-file pw [--trace]
"""
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout

from scenario import Client, StepFailed, close_all, connect_all, emit, run_steps, step_parser, short_err

NS = "urn:xmpp:mam:2"
SID = "urn:xmpp:sid:0"
N = 25


def body_of(result):
    return result["mam_result"]["forwarded"]["stanza"]["body"]


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    T = args.timeout
    a, b = Client(args.alice, pw, "auto"), Client(args.bob, pw, "auto")
    for c in (a, b):
        for p in ("xep_0030", "xep_0059", "xep_0313", "xep_0359"):
            c.register_plugin(p)
    clients = [a, b]
    try:
        await connect_all(clients, [args.addr] * len(clients), T)

        info = await b["xep_0030"].get_info(jid=args.bob, timeout=T)
        feats = info["disco_info"]["features"]
        for f in (NS, NS + "#extended"):
            if f not in feats:
                raise StepFailed("disco", f"{f} among the account's features", str(feats))
        emit("disco")

        since = len(b.log)
        for i in range(N):
            a.send_message(mto=args.bob, mbody=f"m{i}", mtype="chat")
        sids = []
        i = since
        for n in range(N):
            i, m = await b.wait_for("receive", f"message m{n}", lambda k, st: k == "message" and st["body"] == f"m{n}", since=i, timeout=T)
            sid = m.xml.find("{%s}stanza-id" % SID)
            if sid is None or sid.get("by") != args.bob or not sid.get("id"):
                raise StepFailed("stanza-id", "a stanza-id by " + args.bob, str(m))
            sids.append(sid.get("id"))
        emit("receive", count=N)

        try:
            res = await b["xep_0313"].retrieve(with_jid=args.alice, rsm={"max": 100}, timeout=T)
        except (IqError, IqTimeout) as e:
            raise StepFailed("retrieve", "the archive's messages with alice", short_err(e))
        got = [body_of(r) for r in res["mam"]["results"]]
        ids = [r["mam_result"]["id"] for r in res["mam"]["results"]]
        if got != [f"m{i}" for i in range(N)]:
            raise StepFailed("retrieve", f"m0..m{N-1} in order", str(got))
        if ids != sids:
            raise StepFailed("retrieve", "result ids equal to the stanza-ids delivered", f"{ids[:3]} vs {sids[:3]}")
        fin = res.xml.find("{%s}fin" % NS)
        if fin is None or fin.get("complete") != "true":
            raise StepFailed("retrieve", "fin complete='true' for a whole archive", str(res))
        emit("retrieve", count=len(got))

        fwd = [body_of(m) async for m in b["xep_0313"].iterate(with_jid=args.alice, rsm={"max": 10})]
        if fwd != [f"m{i}" for i in range(N)]:
            raise StepFailed("iterate", "the plugin's pages of 10 giving m0..m24", str(fwd))
        emit("iterate", count=len(fwd))
        back = [body_of(m) async for m in b["xep_0313"].iterate(with_jid=args.alice, rsm={"max": 10}, reverse=True)]
        if back != [f"m{i}" for i in reversed(range(N))]:
            raise StepFailed("iterate-back", "pages from the end (RSM before): m24..m0", str(back))
        emit("iterate-back", count=len(back))

        form = await b["xep_0313"].get_fields(timeout=T)
        fl = form["fields"]
        fields = set(fl.keys()) if hasattr(fl, "keys") else {f["var"] for f in fl}
        for f in ("with", "start", "end", "before-id", "after-id", "ids"):
            if f not in fields:
                raise StepFailed("form", f"the field {f} in the query form", str(fields))
        emit("form", fields=sorted(fields))

        md = await b["xep_0313"].get_archive_metadata(timeout=T)
        start, end = md["mam_metadata"]["start"]["id"], md["mam_metadata"]["end"]["id"]
        if start != sids[0] or end != sids[-1]:
            raise StepFailed("metadata", "the first and last ids", f"{start}, {end}")
        emit("metadata", start=start, end=end)

        mine = await a["xep_0313"].retrieve(with_jid=args.bob, rsm={"max": 100}, timeout=T)
        if [body_of(r) for r in mine["mam"]["results"]] != [f"m{i}" for i in range(N)]:
            raise StepFailed("sender-archive", "alice's archive holding what she sent", str(mine))
        emit("sender-archive")

        try:
            await b["xep_0313"].retrieve(jid=args.alice, timeout=T)
            raise StepFailed("other-archive", "an error for bob asking alice's archive", "results")
        except IqError as e:
            emit("other-archive", condition=e.condition)
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = step_parser(__doc__)
    p.add_argument("--addr", required=True, help="host:port of the c2s STARTTLS listener")
    p.add_argument("--alice", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--password-file", required=True)
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
