#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for an Eclipse hawkBit server's Direct Device Integration (DDI) API, for the tests
of dfota-hawkbit (python3 standard library only). Written from hawkBit's DDI documentation.

    ddi-server.py --script FILE --log FILE --root DIR --port-file FILE [--port N] [--token T]
                  [--tls-cert PEM --tls-key PEM]

Binds 127.0.0.1 (port 0: a free one), writes the port to --port-file atomically once
listening. The test drives it by rewriting --script (JSON, re-read on every request):

    {"sleep": "00:00:01",           config.polling.sleep
     "status": 503,                 answer every API request with this status instead
     "config_data": true,           offer _links.configData until a PUT arrives
     "anonymous_download": false,   artifacts without the Authorization header
     "action": {"id": "7", "download": "forced", "update": "attempt",
                "maintenanceWindow": "available",        (optional)
                "artifacts": [{"filename": "update.pack", "file": "update.pack",
                               "sha256": "...", "size": N,  (optional overrides)
                               "status": 404,               (optional)
                               "cut_once": true,            first GET sends half, then closes
                               "ignore_range": true,        answer a Range request with 200
                               "range_416": true,           answer a Range request with 416
                               "bps": 4000}]},              paced delivery
     "cancel": {"id": "8", "stopId": "7"},
     "gone": ["7"],                 actions hawkBit has closed on its own: 410 for them
     "retry_after": 3,              sent as Retry-After with a scripted 429 or 503
     "reoffer_closed": true}        keep offering a closed action (a server replaying it)

--token: the Authorization header every request must carry ("TargetToken abc"); others get
401. Every request is appended to --log (a JSON array rewritten atomically): method, path,
headers, body (parsed JSON when it is JSON). A deploymentBase action takes feedback until its
closed feedback; then it is gone (410), as on hawkBit. Exits on SIGTERM or SIGINT.
"""

import argparse
import hashlib
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()


class State:
    def __init__(self, args):
        self.args = args
        self.log = []
        self.config_done = False
        self.closed = set()  # action ids closed by feedback
        self.cancels_answered = set()
        self.cut_done = set()

    def script(self):
        try:
            with open(self.args.script, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def record(self, entry):
        self.log.append(entry)
        tmp = self.args.log + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.log, f, indent=1)
        os.replace(tmp, self.args.log)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ddi-stand-in/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("ddi: %s\n" % (fmt % args))

    # ---- plumbing ----

    def _send(self, status, body=b"", ctype="application/hal+json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status=200):
        self._send(status, json.dumps(obj).encode())

    def _record(self, body):
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode("utf-8", "replace")
        with LOCK:
            self.server.state.record({
                "method": self.command,
                "path": urllib.parse.urlsplit(self.path).path,
                "query": urllib.parse.urlsplit(self.path).query,
                "headers": {k: v for k, v in self.headers.items()},
                "body": parsed,
                "time": time.time(),
            })

    def _base(self):
        st = self.server.state
        scheme = "https" if st.args.tls_cert else "http"
        return "%s://127.0.0.1:%d/%s/controller/v1/%s" % (
            scheme, self.server.server_address[1], st.args.tenant, st.args.controller)

    # ---- dispatch ----

    def do_GET(self):
        self._handle(b"")

    def do_PUT(self):
        self._handle(self._body())

    def do_POST(self):
        self._handle(self._body())

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self, body):
        st = self.server.state
        self._record(body)
        script = st.script()
        url = urllib.parse.urlsplit(self.path)
        prefix = "/%s/controller/v1/%s" % (st.args.tenant, st.args.controller)
        if not url.path.startswith(prefix):
            return self._send(404, b"not found\n", "text/plain")
        rest = url.path[len(prefix):].strip("/").split("/") if url.path != prefix else []
        is_artifact = len(rest) >= 4 and rest[0] == "softwaremodules"
        if not (is_artifact and script.get("anonymous_download")):
            if st.args.token and self.headers.get("Authorization") != st.args.token:
                return self._send(401, b'{"message":"unauthorized"}')
        if script.get("status"):
            extra = {}
            if script.get("retry_after"):
                extra["Retry-After"] = str(script["retry_after"])
            return self._send(int(script["status"]), b'{"message":"scripted status"}',
                              extra=extra)
        if (len(rest) >= 2 and rest[0] == "deploymentBase"
                and rest[1] in script.get("gone", [])):
            return self._send(410, b'{"message":"action closed by the server"}')
        try:
            if not rest and self.command == "GET":
                return self._root(script)
            if rest == ["configData"] and self.command == "PUT":
                with LOCK:
                    st.config_done = True
                return self._send(200)
            if len(rest) == 2 and rest[0] == "deploymentBase" and self.command == "GET":
                return self._deployment(script, rest[1])
            if (len(rest) == 3 and rest[0] == "deploymentBase" and rest[2] == "feedback"
                    and self.command == "POST"):
                return self._feedback(script, rest[1], body)
            if len(rest) == 2 and rest[0] == "cancelAction" and self.command == "GET":
                return self._cancel(script, rest[1])
            if (len(rest) == 3 and rest[0] == "cancelAction" and rest[2] == "feedback"
                    and self.command == "POST"):
                return self._cancel_feedback(script, rest[1], body)
            if is_artifact and self.command == "GET":
                return self._artifact(script, rest[3])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return None
        return self._send(404, b'{"message":"no such resource"}')

    # ---- resources ----

    def _open_action(self, script):
        a = script.get("action")
        with LOCK:
            closed = a and a["id"] in self.server.state.closed and \
                not script.get("reoffer_closed")
            if a and not closed and a["id"] not in script.get("gone", []):
                return a
        return None

    def _open_cancel(self, script):
        c = script.get("cancel")
        with LOCK:
            if c and c["id"] not in self.server.state.cancels_answered:
                return c
        return None

    def _root(self, script):
        st = self.server.state
        links = {}
        if script.get("config_data") and not st.config_done:
            links["configData"] = {"href": self._base() + "/configData"}
        cancel = self._open_cancel(script)
        action = self._open_action(script)
        if cancel:
            links["cancelAction"] = {"href": self._base() + "/cancelAction/" + cancel["id"]}
        elif action:
            links["deploymentBase"] = {
                "href": self._base() + "/deploymentBase/" + action["id"] + "?c=-2129030598"}
        self._json({"config": {"polling": {"sleep": script.get("sleep", "00:00:01")}},
                    "_links": links})

    def _file(self, name):
        root = os.path.realpath(self.server.state.args.root)
        path = os.path.realpath(os.path.join(root, name))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def _deployment(self, script, action_id):
        action = self._open_action(script)
        if not action or action["id"] != action_id:
            return self._send(410, b'{"message":"action closed"}')
        arts = []
        for art in action.get("artifacts", []):
            data = self._file(art.get("file", art["filename"])) or b""
            href = "%s/softwaremodules/1/artifacts/%s" % (self._base(), art["filename"])
            arts.append({
                "filename": art["filename"],
                "hashes": {"sha1": hashlib.sha1(data).hexdigest(),
                           "md5": hashlib.md5(data).hexdigest(),
                           "sha256": art.get("sha256", hashlib.sha256(data).hexdigest())},
                "size": art.get("size", len(data)),
                "_links": {"download": {"href": href}, "download-http": {"href": href}},
            })
        deployment = {"download": action.get("download", "forced"),
                      "update": action.get("update", "forced"),
                      "chunks": [{"part": "os", "version": "1.0", "name": "BC65 firmware",
                                  "artifacts": arts}]}
        if action.get("maintenanceWindow"):
            deployment["maintenanceWindow"] = action["maintenanceWindow"]
        self._json({"id": action["id"], "deployment": deployment,
                    "actionHistory": {"status": "RUNNING", "messages": []}})

    def _feedback(self, script, action_id, body):
        try:
            fb = json.loads(body)
            execution = fb["status"]["execution"]
            fb["status"]["result"]["finished"]
        except (ValueError, KeyError, TypeError):
            return self._send(400, b'{"message":"malformed feedback"}')
        with LOCK:
            if action_id in self.server.state.closed:
                return self._send(410, b'{"message":"action closed"}')
            if execution in ("closed", "canceled"):
                self.server.state.closed.add(action_id)
        return self._send(200)

    def _cancel(self, script, cancel_id):
        cancel = self._open_cancel(script)
        if not cancel or cancel["id"] != cancel_id:
            return self._send(410, b'{"message":"gone"}')
        self._json({"id": cancel["id"], "cancelAction": {"stopId": cancel["stopId"]}})

    def _cancel_feedback(self, script, cancel_id, body):
        cancel = script.get("cancel") or {}
        try:
            fb = json.loads(body)
            execution = fb["status"]["execution"]
            finished = fb["status"]["result"]["finished"]
        except (ValueError, KeyError, TypeError):
            return self._send(400, b'{"message":"malformed feedback"}')
        with LOCK:
            self.server.state.cancels_answered.add(cancel_id)
            if execution == "closed" and finished == "success" and cancel.get("stopId"):
                self.server.state.closed.add(cancel["stopId"])
        return self._send(200)

    def _artifact(self, script, filename):
        action = script.get("action") or {}
        art = next((a for a in action.get("artifacts", []) if a["filename"] == filename), None)
        if art is None or art.get("status"):
            code = art.get("status", 404) if art else 404
            return self._send(code, b"no artifact\n", "text/plain")
        data = self._file(art.get("file", filename))
        if data is None:
            return self._send(404, b"no artifact\n", "text/plain")
        start = 0
        rng = self.headers.get("Range")
        if art.get("ignore_range"):
            rng = None
        if rng and (art.get("range_416") or
                    (rng.startswith("bytes=") and rng[6:].rstrip("-").isdigit() and
                     int(rng[6:].rstrip("-")) >= len(data))):
            return self._send(416, b"", "text/plain", {"Content-Range": "bytes */%d" % len(data)})
        if rng and rng.startswith("bytes=") and rng[6:].rstrip("-").isdigit():
            start = int(rng[6:].rstrip("-"))
        cut = False
        with LOCK:
            if art.get("cut_once") and filename not in self.server.state.cut_done:
                self.server.state.cut_done.add(filename)
                cut = True
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1,
                                                                  len(data)))
        self.end_headers()
        if cut:
            self.wfile.write(data[start:start + (len(data) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        if art.get("bps"):
            # Paced, so that a test can interrupt the download half way.
            bps = int(art["bps"])
            chunk = max(1, bps // 10)
            for off in range(start, len(data), chunk):
                self.wfile.write(data[off:off + chunk])
                self.wfile.flush()
                time.sleep(chunk / bps)
            return None
        self.wfile.write(data[start:])
        return None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="")
    ap.add_argument("--tenant", default="DEFAULT")
    ap.add_argument("--controller", default="gw-1")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.state = State(args)
    # A restarted stand-in continues the same log (the server "down and back").
    try:
        with open(args.log, encoding="utf-8") as f:
            server.state.log = json.load(f)
        for e in server.state.log:
            if e["method"] == "PUT" and e["path"].endswith("/configData"):
                server.state.config_done = True
            if (e["method"] == "POST" and "/deploymentBase/" in e["path"]
                    and isinstance(e["body"], dict)
                    and e["body"].get("status", {}).get("execution") == "closed"):
                server.state.closed.add(e["path"].split("/")[-2])
    except (OSError, ValueError):
        pass

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
