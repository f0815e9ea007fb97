#!/usr/bin/python3
"""HTTP File Upload (XEP-0363) driven by slixmpp's xep_0363 plugin: alice finds her server's upload
service by disco (identity store/file, the max-file-size form), uploads a file with the plugin's
upload_file (slot request, then the HTTPS PUT with the slot's headers), and the GET URL returns the
same bytes (fetched with aiohttp, as any client would). Then the errors:
a file over the limit (the plugin refuses it from the form; the raw request gets not-acceptable
with <file-too-large><max-file-size/>), a PUT without the slot's Authorization (403), a second
PUT to a used slot (409), a bad file name (bad-request).

TLS: the HTTPS certificate must be trusted by Python's default context (SSL_CERT_FILE).
Prints one JSON line per step, like scenario.py. Run with Debian's python:
  SSL_CERT_FILE=cert.pem /usr/bin/python3 upload.py --addr 127.0.0.1:5222 --alice alice@localhost
    --password-file pw --file doc.pdf [--trace]
"""
import argparse
import asyncio
import hashlib
import os
import sys

import aiohttp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0363.http_upload import FileTooBig

from scenario import Client, StepFailed, close_all, emit, run_steps, short_err

NS = "urn:xmpp:http:upload:0"


async def run(args):
    with open(args.password_file) as f:
        pw = f.read().rstrip("\n")
    host, port = args.addr.rsplit(":", 1)
    T = args.timeout
    domain = args.alice.split("@", 1)[1]
    a = Client(args.alice, pw, "auto")
    for p in ("xep_0030", "xep_0363"):
        a.register_plugin(p)
    clients = [a]
    try:
        a.connect((host, int(port)), force_starttls=True)
        try:
            await asyncio.wait_for(a.online, T)
        except (asyncio.TimeoutError, RuntimeError) as e:
            raise StepFailed("login", "session start (TLS, SASL, bind)", repr(e))
        emit("login")

        up = a["xep_0363"]
        # The plugin's own find_upload_service fails on Python 3.11 (slixmpp 1.8.3 hands coroutines to
        # asyncio.wait); the same discovery by hand, then the plugin is told what it found.
        service, maxsize = None, None
        items = await a["xep_0030"].get_items(jid=domain, timeout=T)
        for item in items["disco_items"]["items"]:
            info = await a["xep_0030"].get_info(jid=item[0], timeout=T)
            if ("store", "file") not in [(i[0], i[1]) for i in info["disco_info"]["identities"]] or NS not in info["disco_info"]["features"]:
                continue
            service = info["from"]
            for form in info["disco_info"].iterables:
                values = form["values"]
                if values["FORM_TYPE"] == [NS]:
                    maxsize = int(values["max-file-size"])
        if service is None:
            raise StepFailed("disco", "a store/file service with " + NS + " among the items of " + domain, str(items))
        if maxsize is None:
            raise StepFailed("disco", "the max-file-size form (XEP-0363 §3)", str(info))
        up.upload_service, up.max_file_size = service, maxsize
        emit("disco", service=str(service), max_file_size=maxsize)

        with open(args.file, "rb") as f:
            data = f.read()
        try:
            url = await up.upload_file(args.file, domain=domain, timeout=T)
        except Exception as e:
            raise StepFailed("upload", "the plugin's upload to succeed", repr(e))
        emit("upload", url=url, size=len(data))

        async with aiohttp.ClientSession() as http:
            async with http.get(url) as r:
                body = await r.read()
                if r.status != 200 or hashlib.sha256(body).digest() != hashlib.sha256(data).digest():
                    raise StepFailed("get", "200 and the bytes uploaded", f"{r.status}, {len(body)} bytes")
                emit("get", status=r.status, type=r.headers.get("Content-Type"), nosniff=r.headers.get("X-Content-Type-Options"))

            # Over the limit: the plugin refuses from the form; the service refuses the raw request.
            try:
                await up.upload_file("big.bin", size=maxsize + 1, input_file=open(args.file, "rb"), domain=domain, timeout=T)
                raise StepFailed("too-large", "FileTooBig from the plugin", "an upload")
            except FileTooBig:
                pass
            try:
                await up.request_slot(service, "big.bin", maxsize + 1, "application/octet-stream", timeout=T)
                raise StepFailed("too-large", "not-acceptable for a file over max-file-size", "a slot")
            except IqError as e:
                ftl = e.iq.xml.find(".//{%s}file-too-large/{%s}max-file-size" % (NS, NS))
                if e.condition != "not-acceptable" or ftl is None or int(ftl.text) != maxsize:
                    raise StepFailed("too-large", "not-acceptable with <file-too-large><max-file-size>", short_err(e))
            emit("too-large")

            # The PUT needs the slot's own secret; a slot takes one file.
            slot = (await up.request_slot(service, "note.txt", 5, "text/plain", timeout=T))["http_upload_slot"]
            put_url = slot["put"]["url"]
            async with http.put(put_url, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
                if r.status != 403:
                    raise StepFailed("put-unauthorized", "403 without the Authorization header", r.status)
            hdrs = {h["name"]: h["value"] for h in slot["put"]["headers"]}
            hdrs["Content-Type"] = "text/plain"
            async with http.put(put_url, data=b"hello", headers=hdrs) as r:
                if r.status != 201:
                    raise StepFailed("put", "201 Created", r.status)
            async with http.put(put_url, data=b"hello", headers=hdrs) as r:
                if r.status != 409:
                    raise StepFailed("put-twice", "409 for a second upload to a slot", r.status)
            emit("put-auth")

        try:
            await up.request_slot(service, "../etc/passwd", 5, "text/plain", timeout=T)
            raise StepFailed("bad-name", "bad-request for a path as file name", "a slot")
        except IqError as e:
            if e.condition != "bad-request":
                raise StepFailed("bad-name", "bad-request", short_err(e))
        emit("bad-name")
        emit("done")
        return 0
    finally:
        await close_all(clients)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True, help="host:port of the c2s STARTTLS listener")
    p.add_argument("--alice", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--file", required=True, help="the file to upload")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per step")
    p.add_argument("--trace", action="store_true", help="log every SEND/RECV to stderr")
    return run_steps(run, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
