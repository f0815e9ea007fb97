#!/usr/bin/python3
"""Private XML Storage (XEP-0049) scenario driven by slixmpp's xep_0049 and xep_0048 plugins.

Steps: alice logs in and finds no bookmarks (XEP-0048 over XEP-0049: an empty <storage/>),
stores two conferences and a URL, reads them back, stores roster notes (XEP-0145, a plugin
defined here: slixmpp has none) and replaces her bookmarks with one conference; the notes
are untouched. Her get and set of bob's storage are refused (forbidden, or the
service-unavailable XEP-0049 2.3 tolerates, with --other-user-condition). She logs in again
on a new connection and finds both namespaces as she left them; bob has none of it.

Prints one JSON line per step, like scenario.py (whose client and helpers it uses). Run with
Debian's python: /usr/bin/python3 private.py --addr 127.0.0.5:5222 --alice alice@localhost
  --bob bob@localhost --password-file pw [--trace]
"""
import argparse
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0048 import Bookmarks
from slixmpp.xmlstream import ElementBase, ET

from scenario import Client, StepFailed, close_all, emit, run_steps, short_err

NS_NOTES = "storage:rosternotes"


class RosterNotes(ElementBase):
    name = "storage"
    namespace = NS_NOTES
    plugin_attrib = "rosternotes"
    interfaces = set()


def conferences(resp):
    return sorted((str(c["jid"]), c["nick"], c["name"], c["autojoin"], c["password"])
                  for c in resp["private"]["bookmarks"]["conferences"])


def urls(resp):
    return sorted((u["url"], u["name"]) for u in resp["private"]["bookmarks"]["urls"])


def note_texts(resp):
    return sorted((n.get("jid"), n.text) for n in resp["private"]["rosternotes"].xml.findall("{%s}note" % NS_NOTES))


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    host, port = args.addr.rsplit(":", 1)
    addr = (host, int(port))
    T = args.timeout
    A, B = args.alice, args.bob
    clients = []

    async def login(jid, step):
        c = Client(jid, pw, "auto")
        c.register_plugin("xep_0049")
        c.register_plugin("xep_0048")
        c["xep_0049"].register(RosterNotes)
        clients.append(c)
        c.connect(addr, force_starttls=True)
        try:
            await asyncio.wait_for(c.online, T)
        except asyncio.TimeoutError:
            raise StepFailed(step, "session start (TLS, SASL, bind)", f"no session within {T:.0f}s")
        except RuntimeError as e:
            raise StepFailed(step, "session start (TLS, SASL, bind)", str(e))
        return c

    async def call(step, expected, fut):
        try:
            return await fut
        except (IqError, IqTimeout) as e:
            raise StepFailed(step, expected, f"got {type(e).__name__}: {short_err(e)}")

    def check(step, expected, got, want):
        if got != want:
            raise StepFailed(step, f"{expected}: {want}", f"got {got}")

    def bookmarks(confs, url_list=()):
        b = Bookmarks()
        for jid, nick, name, autojoin, password in confs:
            b.add_conference(jid, nick, name=name, autojoin=autojoin, password=password)
        for url, name in url_list:
            b.add_url(url, name=name)
        return b

    try:
        a = await login(A, "login-alice")
        emit("login-alice", jid=str(a.boundjid))
        bm = a["xep_0048"]

        resp = await call("bookmarks-empty", "a result for a get with nothing stored", bm.get_bookmarks(method="xep_0049", timeout=T))
        check("bookmarks-empty", "no conferences or URLs stored yet", (conferences(resp), urls(resp)), ([], []))
        emit("bookmarks-empty")

        confs = [("tea@conference.localhost", "alice", "Tea & cake", True, "s3cret"),
                 ("ops@conference.localhost", "al", "☕ ops", False, None)]
        links = [("https://example.org/?a=1&b=2", "Home")]
        await call("bookmarks-set", "a result for the set (XEP-0049 2.3 example 1)",
                   bm.set_bookmarks(bookmarks(confs, links), method="xep_0049", timeout=T))
        resp = await call("bookmarks-get", "the stored bookmarks (example 2)", bm.get_bookmarks(method="xep_0049", timeout=T))
        want = sorted((j, n, nm, aj, pw_ or "") for j, n, nm, aj, pw_ in confs)
        check("bookmarks-get", "the conferences stored", conferences(resp), want)
        check("bookmarks-get", "the URL stored", urls(resp), links)
        emit("bookmarks-get", conferences=len(want), urls=len(links))

        notes = RosterNotes()
        n = ET.SubElement(notes.xml, "{%s}note" % NS_NOTES, jid=B)
        n.text = "met at the café"
        await call("notes-set", "a result for storing roster notes (XEP-0145)", a["xep_0049"].store(notes, timeout=T))
        emit("notes-set")

        one = [("tea@conference.localhost", "alice", "Tea", False, None)]
        await call("bookmarks-replace", "a result for the second set", bm.set_bookmarks(bookmarks(one), method="xep_0049", timeout=T))
        resp = await call("bookmarks-replace", "the replaced bookmarks", bm.get_bookmarks(method="xep_0049", timeout=T))
        check("bookmarks-replace", "only the second set's conference (2.1: a set replaces)", conferences(resp),
              [("tea@conference.localhost", "alice", "Tea", False, "")])
        resp = await call("notes-kept", "the roster notes", a["xep_0049"].retrieve("rosternotes", timeout=T))
        check("notes-kept", "the notes, untouched by the bookmarks set", note_texts(resp), [(B, "met at the café")])
        emit("bookmarks-replace")

        for typ in ("get", "set"):
            iq = a.make_iq_get(ito=B) if typ == "get" else a.make_iq_set(ito=B)
            if typ == "get":
                iq["private"].enable("bookmarks")
            else:
                iq["private"].append(bookmarks(one))
            try:
                await iq.send(timeout=T)
                raise StepFailed("other-user", f"an error for a {typ} of {B}'s storage (2.3)", "got a result")
            except IqError as e:
                check("other-user", f"the condition for a {typ} of {B}'s storage", e.condition, args.other_user_condition)
            except IqTimeout:
                raise StepFailed("other-user", f"an error for a {typ} of {B}'s storage", "no answer")
        emit("other-user", condition=args.other_user_condition)

        a.disconnect(wait=1)
        await asyncio.wait_for(a.gone, T)
        a2 = await login(A, "relogin-alice")
        resp = await call("relogin-alice", "the bookmarks on a new connection", a2["xep_0048"].get_bookmarks(method="xep_0049", timeout=T))
        check("relogin-alice", "the bookmarks as left", conferences(resp), [("tea@conference.localhost", "alice", "Tea", False, "")])
        resp = await call("relogin-alice", "the notes on a new connection", a2["xep_0049"].retrieve("rosternotes", timeout=T))
        check("relogin-alice", "the notes as left", note_texts(resp), [(B, "met at the café")])
        emit("relogin-alice")

        b = await login(B, "login-bob")
        resp = await call("bob-isolated", "a result for bob's get", b["xep_0048"].get_bookmarks(method="xep_0049", timeout=T))
        check("bob-isolated", "none of alice's bookmarks", conferences(resp), [])
        emit("bob-isolated")
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
    p.add_argument("--other-user-condition", default="forbidden",
                   help="the stanza error expected for another user's storage (XEP-0049 2.3 prefers forbidden)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per step")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
