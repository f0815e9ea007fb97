#!/usr/bin/python3
"""Direct peer introduction asked by a client of its own server (docs/direct-introduction.md §4),
driven by slixmpp: the script knows nothing of DNS, LDAP or trust; it sends the IQ and reads the
certificates and verdicts its server found.

Steps: alice logs in; for each --expect ADDRESS=VERDICT she asks her server (a bare-domain 'to')
with <introduce xmlns='urn:tern:direct:introduce:0' address=ADDRESS/> and checks the answer:
VERDICT "usable:SHA256" wants a first <cert/> with usable='true', bound='address', whose first
<x509-cert/> is the DER with that SHA-256; "refused:REASON" wants no usable certificate and one
with that reason. Then a question without an address is refused (bad-request), and disco#info of
her domain lists the namespace.

Prints one JSON line per step, like scenario.py. Run with Debian's python:
  /usr/bin/python3 introduce.py --addr 127.0.0.5:5222 --alice alice@a.example --password-file pw
    --expect nurse@b.example=usable:ab12... --expect expired@b.example=refused:expired [--trace]
"""
import argparse
import asyncio
import base64
import hashlib
import sys

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

from scenario import Client, StepFailed, close_all, emit, run_steps, short_err

NS = "urn:tern:direct:introduce:0"
NS_X509 = "urn:xmpp:x509:0"


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    host, port = args.addr.rsplit(":", 1)
    T = args.timeout
    domain = args.alice.split("@", 1)[1]
    a = Client(args.alice, pw, "auto")
    a.register_plugin("xep_0030")
    clients = [a]
    try:
        a.connect((host, int(port)), force_starttls=True)
        try:
            await asyncio.wait_for(a.online, T)
        except (asyncio.TimeoutError, RuntimeError) as e:
            raise StepFailed("login", "session start (TLS, SASL, bind)", repr(e))
        emit("login")

        async def ask(step, address):
            iq = a.make_iq_get(ito=domain)
            q = ET.Element("{%s}introduce" % NS)
            if address is not None:
                q.set("address", address)
            iq.append(q)
            return await iq.send(timeout=T)

        for spec in args.expect:
            address, verdict = spec.split("=", 1)
            kind, want = verdict.split(":", 1)
            step = "introduce " + address
            try:
                resp = await ask(step, address)
            except (IqError, IqTimeout) as e:
                raise StepFailed(step, "a result with the certificates found", short_err(e))
            answer = resp.xml.find("{%s}introduce" % NS)
            if answer is None or answer.get("address") != address:
                raise StepFailed(step, f"an <introduce address='{address}'/> answer", str(resp))
            certs = answer.findall("{%s}cert" % NS)
            tried = [t.text for t in answer.findall("{%s}tried" % NS)]
            usable = [c for c in certs if c.get("usable") == "true"]
            if kind == "usable":
                if not usable:
                    raise StepFailed(step, "a usable certificate", f"none; tried {tried}; reasons {[c.get('reason') for c in certs]}")
                first = usable[0]
                der = base64.b64decode("".join(first.find("{%s}x509-cert-chain/{%s}x509-cert" % (NS_X509, NS_X509)).text.split()))
                got = hashlib.sha256(der).hexdigest()
                if got != want or first.get("bound") != "address" or certs[0] is not first:
                    raise StepFailed(step, f"first the address-bound certificate {want[:16]}",
                                     f"{got[:16]} bound={first.get('bound')} first={certs[0] is first}")
                emit(step, source=first.get("source"), where=first.get("where"), tried=tried)
            else:
                reasons = [c.get("reason") for c in certs]
                if usable or want not in reasons:
                    raise StepFailed(step, f"no usable certificate, one refused for {want}",
                                     f"usable {len(usable)}, reasons {reasons}, tried {tried}")
                emit(step, reasons=reasons, tried=tried)

        try:
            await ask("no-address", None)
            raise StepFailed("no-address", "bad-request for a question without an address", "a result")
        except IqError as e:
            if e.condition != "bad-request":
                raise StepFailed("no-address", "bad-request", e.condition)
        emit("no-address")

        try:
            info = await a["xep_0030"].get_info(jid=domain, timeout=T)
        except (IqError, IqTimeout) as e:
            raise StepFailed("disco", "disco#info of " + domain, short_err(e))
        if NS not in info["disco_info"]["features"]:
            raise StepFailed("disco", f"{NS} among the features of {domain}", str(info["disco_info"]["features"]))
        emit("disco")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True, help="host:port of the c2s STARTTLS listener")
    p.add_argument("--alice", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--expect", action="append", default=[], help="ADDRESS=usable:SHA256 or ADDRESS=refused:REASON")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per step")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
