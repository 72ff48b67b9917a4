#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Item 1 of the benchmarks as a user's client sees it: Modem.Command("AT") through dfotad
measured by PyGObject's GDBus (not the project's C client), against the sum of two baselines
measured by the same client in the same interleaved rounds: org.freedesktop.DBus.Peer.Ping to
org.dfotad1 and "AT" written directly on the pty of a twin simulator (echo off, as dfotad keeps
its own). Prints "#" detail lines and table rows like dfota-bench (docs/performance.md).

  bench-python-command.py --direct PTY [--modem PATH] [-n N] [--warmup N] [--floor LABEL=NAME]...

--floor adds a bench/floor-modem service (the least a D-Bus service can do for Command) to the
same rounds: its own ratio against the same baselines, and dfotad's Command against its.

Exit status 0 when it ran (a missed target is reported, not failed; a floor that fails is
reported and left out), 1 when it could not, 2 on a usage error.
"""
import argparse
import os
import select
import sys
import termios
import time
import tty

from gi.repository import Gio, GLib

BUS_NAME = "org.dfotad1"
FINALS = (b"\nOK\r\n", b"\nERROR\r\n")


def now_us():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1000.0


def pty_open(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    tty.setraw(fd, termios.TCSANOW)
    return fd


def has_final(buf):
    if any(f in buf for f in FINALS):
        return True
    i = buf.find(b"+CME ERROR:")
    return i >= 0 and buf.find(b"\r\n", i) >= 0


def pty_roundtrip(fd, command, timeout_s=5.0):
    os.write(fd, command.encode() + b"\r")
    buf = b"\n"
    deadline = time.monotonic() + timeout_s
    while not has_final(buf):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("no final result to %s on the pty" % command)
        chunk = os.read(fd, 4096)
        if not chunk:
            raise OSError("read pty: EOF")
        buf = buf[-64:] + chunk
    return True


def stats(samples):
    s = sorted(samples)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    p99 = s[max(0, -(-99 * n // 100) - 1)]  # nearest rank
    return {"n": n, "median": median, "p99": p99, "min": s[0], "max": s[-1]}


def describe(st):
    return "n=%d median=%.1fus p99=%.1fus min=%.1fus max=%.1fus" % (
        st["n"], st["median"], st["p99"], st["min"], st["max"])


def row(item, measured, baseline, ratio, target, met):
    verdict = "info" if target is None else ("met" if met else "MISSED")
    print("| %s | %s | %s | %.3f | %s | %s |" % (
        item, measured, baseline, ratio, target or "-", verdict))


def wait_ready(conn, modem, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = conn.call_sync(BUS_NAME, modem, "org.freedesktop.DBus.Properties", "Get",
                               GLib.Variant("(ss)", ("org.dfotad1.Modem", "State")),
                               GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None)
        if state.unpack()[0] == "ready":
            return
        time.sleep(0.05)
    raise TimeoutError("%s is not ready" % modem)


def wait_owned(conn, name, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.call_sync(name, "/", "org.freedesktop.DBus.Peer", "Ping", None, None,
                           Gio.DBusCallFlags.NONE, 5000, None)
            return
        except GLib.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--direct", required=True, help="pty of the direct twin simulator")
    ap.add_argument("--modem", default="/org/dfotad1/Modem/0")
    ap.add_argument("-n", "--iterations", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--floor", action="append", default=[], metavar="LABEL=NAME",
                    help="a floor-modem service measured in the same rounds")
    args = ap.parse_args()
    if args.iterations < 1:
        ap.error("--iterations must be >= 1")
    floors = []
    for arg in args.floor:
        label, _, name = arg.partition("=")
        if not label or not Gio.dbus_is_name(name):
            ap.error("--floor %s is not LABEL=BUSNAME" % arg)
        floors.append({"label": label, "name": name, "ping": [], "cmd": [], "failed": False})

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    wait_ready(conn, args.modem)
    for f in floors:
        try:
            wait_owned(conn, f["name"])
        except GLib.Error as e:
            print("# 1p. floor %s did not start (%s); its rows are left out" % (f["label"], e))
            f["failed"] = True
    fd = pty_open(args.direct)
    pty_roundtrip(fd, "ATE0")
    pty_roundtrip(fd, "AT+CMEE=1")

    cmd_args = GLib.Variant("(su)", ("AT", 0))
    cmd_type = GLib.VariantType("(s)")
    t_ping, t_cmd, t_pty = [], [], []
    # interleaved rounds: a slow phase of the machine hits all three alike
    for i in range(-args.warmup, args.iterations):
        t0 = now_us()
        conn.call_sync(BUS_NAME, "/", "org.freedesktop.DBus.Peer", "Ping", None, None,
                       Gio.DBusCallFlags.NONE, 5000, None)
        t1 = now_us()
        reply = conn.call_sync(BUS_NAME, args.modem, "org.dfotad1.Modem", "Command", cmd_args,
                               cmd_type, Gio.DBusCallFlags.NONE, 5000, None)
        t2 = now_us()
        pty_roundtrip(fd, "AT")
        t3 = now_us()
        if reply.unpack()[0] not in ("", "OK"):
            raise RuntimeError("unexpected answer to AT: %r" % reply.unpack()[0])
        if i >= 0:
            t_ping.append(t1 - t0)
            t_cmd.append(t2 - t1)
            t_pty.append(t3 - t2)
        for f in floors:
            if f["failed"]:
                continue
            try:
                f0 = now_us()
                conn.call_sync(f["name"], "/", "org.freedesktop.DBus.Peer", "Ping", None,
                               None, Gio.DBusCallFlags.NONE, 5000, None)
                f1 = now_us()
                conn.call_sync(f["name"], "/org/dfotad1/Modem/0", "org.dfotad1.Modem",
                               "Command", cmd_args, cmd_type, Gio.DBusCallFlags.NONE, 5000,
                               None)
                f2 = now_us()
            except GLib.Error as e:
                # information only: a floor that fails is reported and left out
                print("# 1p. floor %s failed (%s); its rows are left out" % (f["label"], e))
                f["failed"] = True
                continue
            if i >= 0:
                f["ping"].append(f1 - f0)
                f["cmd"].append(f2 - f1)
    os.close(fd)

    sp, sc, sd = stats(t_ping), stats(t_cmd), stats(t_pty)
    print("# 1p. Peer.Ping to dfotad (PyGObject):      " + describe(sp))
    print("# 1p. Command(\"AT\") via dfotad (PyGObject): " + describe(sc))
    print("# 1p. AT on the pty directly (Python):      " + describe(sd))
    print("# 1p. daemon's own share at the median: %.1f us" %
          (sc["median"] - sp["median"] - sd["median"]))
    base = sp["median"] + sd["median"]
    row("1p. AT round trip, PyGObject client, median", "%.1f us" % sc["median"],
        "%.1f + %.1f us" % (sp["median"], sd["median"]), sc["median"] / base, "<= 1.15",
        sc["median"] / base <= 1.15)
    base = sp["p99"] + sd["p99"]
    row("1p. AT round trip, PyGObject client, p99", "%.1f us" % sc["p99"],
        "%.1f + %.1f us" % (sp["p99"], sd["p99"]), sc["p99"] / base, None, False)
    for f in floors:
        if f["failed"] or not f["cmd"]:
            continue
        fp, fc = stats(f["ping"]), stats(f["cmd"])
        print("# 1p. floor %s: Peer.Ping: %s" % (f["label"], describe(fp)))
        print("# 1p. floor %s: Command(\"AT\"): %s" % (f["label"], describe(fc)))
        row("1p. floor: minimal %s service, same Command, median" % f["label"],
            "%.1f us" % fc["median"], "%.1f + %.1f us" % (fp["median"], sd["median"]),
            fc["median"] / (fp["median"] + sd["median"]), None, False)
        row("1p. dfotad's Command / the minimal %s service's, median" % f["label"],
            "%.1f us" % sc["median"], "%.1f us" % fc["median"], sc["median"] / fc["median"],
            None, False)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (GLib.Error, OSError, TimeoutError, RuntimeError) as e:
        print("bench-python-command: %s" % e, file=sys.stderr)
        sys.exit(1)
