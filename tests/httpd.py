#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test HTTP(S) server for dfotad's tests (python3 standard library only).

    python3 tests/httpd.py --root DIR --port-file FILE [--tls-cert PEM --tls-key PEM]

Binds 127.0.0.1 on a free port and writes that port to --port-file atomically (temp file +
rename) once it is listening. Serves the files under DIR with a Content-Length, plus:

    /status/NNN               that HTTP status, short text body
    /stall/<file>             headers with the file's real Content-Length, half the body, then
                              nothing for up to an hour (the client must time out)
    /slow/<file>?bps=N        the file paced at N bytes per second
    /redirect/<n>/<file>      n chained 302 redirects, then the file
    /goto?to=URL              one 302 redirect to URL (absolute: another server, another scheme)

Logs to stderr only. Exits on SIGTERM or SIGINT.
"""

import argparse
import http.server
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dfotad-test-httpd/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd: %s %s\n" % (self.address_string(), fmt % args))

    def _file(self, rel):
        root = os.path.realpath(self.server.root)
        path = os.path.realpath(os.path.join(root, urllib.parse.unquote(rel).lstrip("/")))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def _simple(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _headers(self, length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        # The request line (query included) is logged by log_message; credentials from a
        # URL's userinfo arrive as this header, logged so a test can see what the client sent.
        auth = self.headers.get("Authorization")
        if auth:
            sys.stderr.write("httpd: %s Authorization: %s\n" % (self.address_string(), auth))
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        query = urllib.parse.parse_qs(url.query)
        try:
            if len(parts) >= 3 and parts[1] == "status":
                code = int(parts[2])
                self._simple(code, ("status %d\n" % code).encode())
            elif len(parts) >= 3 and parts[1] == "stall":
                data = self._file("/".join(parts[2:]))
                if data is None:
                    return self._simple(404, b"not found\n")
                self._headers(len(data))
                if self.command == "HEAD":
                    return
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.server.stop.wait(3600)
                self.close_connection = True
            elif len(parts) >= 3 and parts[1] == "slow":
                data = self._file("/".join(parts[2:]))
                if data is None:
                    return self._simple(404, b"not found\n")
                bps = max(1, int(query.get("bps", ["1024"])[0]))
                self._headers(len(data))
                if self.command == "HEAD":
                    return
                chunk = max(1, bps // 20)
                start = time.monotonic()
                for off in range(0, len(data), chunk):
                    due = start + off / bps
                    delay = due - time.monotonic()
                    if delay > 0 and self.server.stop.wait(delay):
                        return
                    self.wfile.write(data[off : off + chunk])
                    self.wfile.flush()
            elif len(parts) == 2 and parts[1] == "goto" and "to" in query:
                self.send_response(302)
                self.send_header("Location", query["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif len(parts) >= 4 and parts[1] == "redirect":
                n = int(parts[2])
                rest = "/".join(parts[3:])
                location = "/redirect/%d/%s" % (n - 1, rest) if n > 1 else "/" + rest
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                data = self._file(url.path)
                if data is None:
                    return self._simple(404, b"not found\n")
                self._headers(len(data))
                if self.command != "HEAD":
                    self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except ValueError:
            self._simple(400, b"bad request\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    server = Server(("127.0.0.1", 0), Handler)
    server.root = args.root
    server.stop = threading.Event()
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # handshake in the handler thread, so that a silent client cannot block accept()
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)

    def stop(signum, frame):
        server.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tmp = "%s.tmp%d" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
