#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sim-selftest: talks AT directly to dfota-sim on its pseudo-terminal.

    python3 test-sim.py PATH/TO/dfota-sim PATH/TO/httpd.py [unittest args]

Every wait has a deadline and waits for an event (a line, a byte, a file); no fixed sleeps.
"""

import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
import unittest

SIM = None
HTTPD = None
SCALE = "0.02"


def xor16(data):
    x = 0
    for i in range(0, len(data) - 1, 2):
        x ^= (data[i] << 8) | data[i + 1]
    if len(data) % 2:
        x ^= data[-1] << 8
    return x


class Modem:
    """The host side of the pty: line and byte reads with deadlines."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.buf = b""

    def close(self):
        os.close(self.fd)

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self.fd], [], 1)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], left)
        if not r:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        self.buf += chunk
        return True

    def read_bytes(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError("timeout reading %d bytes, have %r" % (n, self.buf[:80]))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self, timeout=5):
        """Next non-empty line (CR, LF or CRLF terminated)."""
        deadline = time.monotonic() + timeout
        while True:
            stripped = self.buf.lstrip(b"\r\n")
            self.buf = stripped
            idx = [i for i in (self.buf.find(b"\r"), self.buf.find(b"\n")) if i >= 0]
            if idx:
                i = min(idx)
                if self.buf[i : i + 1] == b"\r" and i + 1 == len(self.buf):
                    self._fill(min(deadline, time.monotonic() + 0.2))
                line = self.buf[:i]
                rest = self.buf[i + 1 :]
                if self.buf[i : i + 1] == b"\r" and rest.startswith(b"\n"):
                    rest = rest[1:]
                self.buf = rest
                return line.decode("latin-1")
            if not self._fill(deadline):
                raise AssertionError("timeout waiting for a line, have %r" % self.buf[:200])

    def until(self, want, timeout=10):
        """Lines up to and including the first one equal to (or starting with) want."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (want, seen))
            try:
                ln = self.line(left)
            except AssertionError as e:
                raise AssertionError("no %r in %r (%s)" % (want, seen, e)) from None
            seen.append(ln)
            if ln == want or (want.endswith("*") and ln.startswith(want[:-1])):
                return seen

    def cmd(self, command, timeout=5):
        """Sends a command; returns its response lines (echo removed) and the final result."""
        self.write(command + "\r")
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            ln = self.line(max(0.01, deadline - time.monotonic()))
            if ln == command:
                continue
            if ln in ("OK", "ERROR") or ln.startswith("+CME ERROR:"):
                return lines, ln
            lines.append(ln)

    def quiet(self, timeout=0.3):
        """True if nothing arrives within timeout (used to assert silence, not to sync)."""
        if self.buf:
            return False
        return not self._fill(time.monotonic() + timeout)


class SimProcess:
    def __init__(self, tmp, *args):
        self.tmp = tmp
        self.link = os.path.join(tmp, "tty")
        self.log = os.path.join(tmp, "sim.log")
        self.control = os.path.join(tmp, "control")
        argv = [SIM, "--link", self.link, "--time-scale", SCALE, "--log", self.log,
                "--control", self.control] + list(args)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.out = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        ready = self.stdout_line(10)
        assert ready.startswith("READY /dev/"), ready
        self.modem = Modem(self.link)

    def _reader(self):
        for ln in self.proc.stdout:
            self.out.put(ln.rstrip("\n"))

    def stdout_line(self, timeout=5):
        return self.out.get(timeout=timeout)

    def control_cmd(self, text):
        with open(self.control, "w") as f:
            f.write(text + "\n")
        ack = self.stdout_line()
        assert ack == "OK " + text, ack

    def stop(self):
        if self.modem:
            self.modem.close()
            self.modem = None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        self.proc.stdout.close()
        assert rc == 0, rc
        assert not os.path.lexists(self.link)

    def log_lines(self):
        with open(self.log) as f:
            return f.read().splitlines()


class Httpd:
    def __init__(self, root):
        self.port_file = os.path.join(root, "port")
        self.proc = subprocess.Popen([sys.executable, HTTPD, "--root", root,
                                      "--port-file", self.port_file],
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            assert time.monotonic() < deadline and self.proc.poll() is None, "httpd did not start"
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def url(self, path):
        return "http://127.0.0.1:%d/%s" % (self.port, path)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class SimTest(unittest.TestCase):
    sim_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dfota-sim-test-")
        self.www = os.path.join(self.tmp, "www")
        os.mkdir(self.www)
        self.httpd = None
        self.sim = None

    def tearDown(self):
        if self.sim:
            self.sim.stop()
        if self.httpd and self.httpd is not getattr(self, "server", None):
            self.httpd.stop()
        shutil.rmtree(self.tmp)

    def start(self, *args):
        self.sim = SimProcess(self.tmp, *args)
        self.m = self.sim.modem
        return self.m

    def serve(self):
        self.httpd = Httpd(self.www)
        return self.httpd

    def package(self, name, frm, to, *extra):
        out = os.path.join(self.www, name)
        subprocess.run([SIM, "--make-package", out, "--from", frm, "--to", to] + list(extra),
                       check=True)
        with open(out, "rb") as f:
            return f.read()

    def expect_ok(self, command, lines=None):
        got, final = self.m.cmd(command)
        self.assertEqual(final, "OK", (command, got))
        if lines is not None:
            self.assertEqual(got, lines)
        return got

    def expect_error(self, command, final):
        got, res = self.m.cmd(command)
        self.assertEqual(res, final, (command, got))

    def revision(self):
        return self.expect_ok("ATI")[2]


class TestBasic(SimTest):
    def test_identity_and_network(self):
        m = self.start()
        m.write("AT\r")
        self.assertEqual(m.line(), "AT")  # echo on at boot
        self.assertEqual(m.line(), "OK")
        self.expect_ok("ATI", ["Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A01"])
        self.expect_ok("ATE0")
        m.write("AT\r")
        self.assertEqual(m.line(), "OK")  # no echo any more
        self.expect_ok("AT+CGSN=1", ["+CGSN: 866425030000001"])
        self.expect_ok("AT+CGSN", ["866425030000001"])
        self.expect_ok("AT+CESQ", ["+CESQ: 99,99,255,255,20,45"])
        self.expect_ok("AT+COPS?", ['+COPS: 0,2,"46011",9'])
        self.expect_ok("at+cereg?", ["+CEREG: 0,1"])
        self.expect_ok("AT+CGPADDR", ["+CGPADDR: 1,100.68.194.234"])
        self.expect_ok("AT+CGDCONT?", ['+CGDCONT: 1,"IP","cmnbiot","100.68.194.234",0,0'])
        self.expect_ok("AT+CFUN?", ["+CFUN: 1"])
        self.expect_ok("AT+QSCLK=0")
        self.expect_ok("AT+QSCLK?", ["+QSCLK: 0"])
        self.expect_error("AT+NOSUCH", "ERROR")
        self.expect_error("AT+QFLST=\"nope\"", "ERROR")  # CMEE=0 at boot
        self.expect_ok("AT+CMEE=1")
        self.expect_error("AT+QFLST=\"nope\"", "+CME ERROR: 405")
        self.expect_error("AT+NOSUCH", "ERROR")
        log = self.sim.log_lines()
        self.assertIn("> AT+CESQ", log)
        self.assertIn("< +CESQ: 99,99,255,255,20,45", log)

    def test_unregistered(self):
        self.start("--unregistered", "--imei", "123456789012345")
        self.expect_ok("AT+CMEE=1")
        self.expect_ok("AT+COPS?", ["+COPS: 0"])
        self.expect_ok("AT+CEREG?", ["+CEREG: 0,0"])
        self.expect_ok("AT+CGPADDR=1", ["+CGPADDR: 1"])
        self.expect_ok("AT+CGSN=1", ["+CGSN: 123456789012345"])
        self.expect_error('AT+QFOTADL="http://127.0.0.1:1/x"', "+CME ERROR: 6503")

    def test_bc92_gsm_needs_pdp(self):
        self.start("--model", "BC92", "--rat", "gsm")
        self.expect_ok("AT+CMEE=1")
        self.assertEqual(self.revision(), "Revision: BC92JBR01A01")
        self.expect_ok("AT+COPS?", ['+COPS: 0,2,"46000",0'])
        self.expect_ok("AT+CESQ", ["+CESQ: 40,0,255,255,255,255"])
        self.expect_ok("AT+CGPADDR", ["+CGPADDR: 1"])
        self.expect_error('AT+QFOTADL="http://127.0.0.1:1/x"', "+CME ERROR: 6503")
        self.expect_ok('AT+CGDCONT=1,"IP"')
        self.expect_ok("AT+CGACT=1,1")
        self.expect_ok("AT+CGACT?", ["+CGACT: 1,1"])
        self.expect_ok("AT+CGDCONT?", ['+CGDCONT: 1,"IP",,"100.68.194.234",0,0'])
        self.expect_ok("AT+CGPADDR", ["+CGPADDR: 1,100.68.194.234"])

    def test_bad_options(self):
        rc = subprocess.run([SIM, "--link", os.path.join(self.tmp, "x"), "--rat", "gsm"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        self.assertEqual(rc, 2)


def qind(what, value=None, pct=False, seed=False):
    sep = ", " if seed else ","
    s = '+QIND: "FOTA"%s"%s"' % (sep, what)
    if value is not None:
        s += "%s%d%s" % (sep, value, "%" if pct else "")
    return s


class TestFota(SimTest):
    """One HTTP server for the whole class: starting Python costs more than a test."""

    @classmethod
    def setUpClass(cls):
        cls.www_dir = tempfile.mkdtemp(prefix="dfota-sim-www-")
        cls.server = Httpd(cls.www_dir)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.www_dir)

    def setUp(self):
        super().setUp()
        self.www = self.www_dir
        self.httpd = self.server
        self.package("up.pack", "BC65JAR01A01", "BC65JAR01A02")

    def upgrade_lines(self, url):
        self.expect_ok('AT+QFOTADL="%s"' % url)
        return self.m.until('+QIND: "FOTA","END",*', 20)

    def test_url_upgrade_reboots_with_new_revision(self):
        m = self.start()
        self.expect_ok("ATE0")
        lines = self.upgrade_lines(self.httpd.url("up.pack"))
        want = ([qind("HTTPSTART")] + [qind("DOWNLOADING", p) for p in range(0, 101, 10)] +
                [qind("HTTPEND", 0), qind("START")] +
                [qind("UPDATING", p) for p in range(0, 101, 10)] + [qind("END", 0)])
        self.assertEqual(lines, want)
        self.assertEqual(m.line(), "RDY")
        self.assertEqual(m.line(), "+CPIN: READY")
        self.assertEqual(self.revision(), "Revision: BC65JAR01A02")  # echo back on: handled
        got, _ = m.cmd("AT+CMEE?")
        self.assertEqual(got, ["+CMEE: 0"])

    def test_download_errors(self):
        self.package("bad.pack", "BC65JAR01A01", "BC65JAR01A02", "--corrupt",
                     "--payload-size", "100")
        self.package("big.pack", "BC65JAR01A01", "BC65JAR01A02", "--payload-size", "5000")
        self.start("--max-package", "4096")
        self.expect_ok("ATE0")
        self.expect_ok("AT+CMEE=1")
        cases = [("nothere.pack", 6504), ("status/500", 6503), ("bad.pack", 6507),
                 ("big.pack", 6502)]
        for path, code in cases:
            self.expect_ok('AT+QFOTADL="%s"' % self.httpd.url(path))
            lines = self.m.until(qind("HTTPEND", code), 10)
            self.assertEqual(lines[0], qind("HTTPSTART"), path)
        self.expect_ok('AT+QFOTADL="http://127.0.0.1:1/refused"')
        self.m.until(qind("HTTPEND", 6503), 10)
        self.expect_error('AT+QFOTADL="ftp://x/y"', "+CME ERROR: 6501")
        self.expect_error('AT+QFOTADL="http://%s"' % ("a" * 512), "+CME ERROR: 6501")
        self.expect_ok("AT+QFOTADL=?")
        self.assertTrue(self.m.quiet(0.2))
        self.assertEqual(self.revision(), "Revision: BC65JAR01A01")

    def test_wrong_base(self):
        self.package("other.pack", "BC65JAR01A07", "BC65JAR01A08")
        self.start()
        self.expect_ok("ATE0")
        lines = self.upgrade_lines(self.httpd.url("other.pack"))
        self.assertEqual(lines[-1], qind("END", 6508))
        self.assertIn(qind("UPDATING", 100), lines)
        self.assertTrue(self.m.quiet(0.2))  # no reboot
        self.assertEqual(self.revision(), "Revision: BC65JAR01A01")

    def test_injected_errors(self):
        self.start("--inject-error", "6509:sync")
        self.expect_ok("ATE0")
        self.expect_ok("AT+CMEE=1")
        url = self.httpd.url("up.pack")
        self.expect_error('AT+QFOTADL="%s"' % url, "+CME ERROR: 6509")
        self.sim.control_cmd("error 6505 httpend")
        self.expect_ok('AT+QFOTADL="%s"' % url)
        self.assertEqual(self.m.until('+QIND: "FOTA","HTTPEND",*')[-1], qind("HTTPEND", 6505))
        self.sim.control_cmd("error 6508 end")
        lines = self.upgrade_lines(url)
        self.assertEqual(lines[-1], qind("END", 6508))
        self.assertTrue(self.m.quiet(0.2))
        # one-shot: the next one succeeds
        lines = self.upgrade_lines(url)
        self.assertEqual(lines[-1], qind("END", 0))
        self.m.until("+CPIN: READY")

    def test_seed_spelling(self):
        self.start("--spelling", "seed")
        self.expect_ok("ATE0")
        url = self.httpd.url("up.pack")
        self.expect_ok('AT+QFOTADL="%s"' % url)
        lines = self.m.until('+QIND: "FOTA", "END", *', 20)
        self.assertEqual(lines[0], '+QIND: "FOTA", "HTTPSTART"')
        self.assertEqual(lines[2], '+QIND: "FOTA", "DOWNLOADING", 10%')
        self.assertIn('+QIND: "FOTA", "UPDATING", 100%', lines)
        ends = [ln for ln in lines if "PEND" in ln]
        self.m.until("+CPIN: READY")
        # the second job uses the other misspelling; the sim is on the new revision now, so
        # an MCU download is the job that needs no matching package
        self.expect_ok("ATE0")
        self.expect_ok('AT+QFOTADL=2,"%s"' % url)
        self.m.until('+QIND: "FOTA", "DOWNLOADING", 100%', 20)
        self.assertEqual(sorted([ends[0], self.m.line()]),
                         ['+QIND: "FOTA", "HTTPPEND", 0', '+QIND: "FOTA", "HTTTPEND", 0'])

    def test_power_cut_updating_resumes(self):
        m = self.start("--power-cut", "updating:50")
        self.expect_ok("ATE0")
        self.expect_ok('AT+QFOTADL="%s"' % self.httpd.url("up.pack"))
        lines = m.until(qind("UPDATING", 50), 20)
        self.assertNotIn(qind("END", 0), lines)
        self.assertEqual(m.line(), "RDY")
        want = [qind("START")] + [qind("UPDATING", p, pct=True) for p in range(0, 101, 10)]
        want += [qind("END", 0)]
        self.assertEqual(m.until(qind("END", 0)), want)
        self.assertEqual(m.line(), "RDY")
        self.assertEqual(m.line(), "+CPIN: READY")
        self.assertEqual(self.revision(), "Revision: BC65JAR01A02")

    def test_power_cut_downloading_loses_package(self):
        m = self.start()
        self.sim.control_cmd("powercut downloading 30")
        self.expect_ok("ATE0")
        self.expect_ok('AT+QFOTADL="%s"' % self.httpd.url("up.pack"))
        m.until(qind("DOWNLOADING", 30), 20)
        self.assertEqual(m.line(), "RDY")
        self.assertEqual(m.line(), "+CPIN: READY")
        self.assertEqual(self.revision(), "Revision: BC65JAR01A01")

    def test_mcu_download_names(self):
        with open(os.path.join(self.www, "test.bin"), "wb") as f:
            f.write(bytes(range(250)) * 4)
        with open(os.path.join(self.www, "big.bin"), "wb") as f:
            f.write(b"b" * 5000)
        self.start("--ufs-size", "4500")
        self.expect_ok("ATE0")
        self.expect_ok("AT+CMEE=1")
        url = self.httpd.url("test.bin")
        for args, name in [('"%s"' % url, "test.bin"),
                           ('"%s","mine.bin"' % url, "mine.bin"),
                           ('"%s?x=1"' % self.httpd.url("redirect/2/test.bin"), "test.bin"),
                           ('"%s/"' % self.httpd.url("redirect/1/test.bin"), "mcu_update.bin"),
                           ('"%s"' % self.httpd.url("redirect/1/" + "n" * 59), "mcu_update.bin")]:
            self.expect_ok("AT+QFOTADL=2,%s" % args)
            end = self.m.until('+QIND: "FOTA","HTTPEND",*', 10)[-1]
            if "n" * 59 in args:
                self.assertEqual(end, qind("HTTPEND", 6504))
                continue
            self.assertEqual(end, qind("HTTPEND", 0), args)
            self.expect_ok('AT+QFLST="%s"' % name, ['+QFLST: "%s",1000' % name])
        self.expect_ok("AT+QFLST", ['+QFLST: "%s",1000' % n
                                    for n in ("mine.bin", "test.bin", "mcu_update.bin")])
        self.expect_error('AT+QFOTADL=2,"%s","%s"' % (url, "n" * 59), "+CME ERROR: 6501")
        self.expect_ok('AT+QFOTADL=2,"%s"' % self.httpd.url("big.bin"))
        self.assertEqual(self.m.until('+QIND: "FOTA","HTTPEND",*')[-1], qind("HTTPEND", 6505))
        self.assertTrue(self.m.quiet(0.2))
        self.expect_error('AT+QFLST="big.bin"', "+CME ERROR: 405")

    def test_mcu_illegal_name(self):
        with open(os.path.join(self.www, "bad name!.bin"), "wb") as f:
            f.write(b"x" * 100)
        self.start()
        self.expect_ok("ATE0")
        self.expect_ok('AT+QFOTADL=2,"%s"' % self.httpd.url("bad%20name!.bin"))
        self.assertEqual(self.m.until('+QIND: "FOTA","HTTPEND",*')[-1], qind("HTTPEND", 0))
        self.expect_ok("AT+QFLST", ['+QFLST: "mcu_update.bin",100'])


class TestUfs(SimTest):
    def upload(self, name, data, ackmode, wait_acks, timeout_s=2):
        m = self.m
        m.write('AT+QFUPL="%s",%d,%d,%d\r' % (name, len(data), timeout_s, ackmode))
        m.until("CONNECT")
        acks = 0
        for off in range(0, len(data), 1024):
            block = data[off : off + 1024]
            m.write(block)
            if wait_acks and len(block) == 1024:
                self.assertEqual(m.read_bytes(1), b"A")
                acks += 1
        lines = m.until("OK", timeout_s + 5)
        res = [ln for ln in lines if ln.startswith("+QFUPL:")]
        return res[0], acks

    def test_upload_with_acks_and_download(self):
        m = self.start()
        self.expect_ok("ATE0")
        data = os.urandom(5 * 1024 + 333)
        res, acks = self.upload("blob.bin", data, 1, True)
        self.assertEqual(acks, 5)
        self.assertEqual(res, "+QFUPL: %d,%x" % (len(data), xor16(data)))
        self.expect_ok('AT+QFLST', ['+QFLST: "blob.bin",%d' % len(data)])
        self.expect_ok('AT+QFLDS="UFS"', ["+QFLDS: %d,%d" % (4194304 - len(data), 4194304)])
        m.write('AT+QFDWL="blob.bin"\r')
        m.until("CONNECT")
        self.assertEqual(m.read_bytes(len(data)), data)
        self.assertEqual(m.line(), "+QFDWL: %d,%x" % (len(data), xor16(data)))
        self.assertEqual(m.line(), "OK")
        # odd length: the last byte counts as a high byte
        res, _ = self.upload("odd", b"\x12\x34\x56", 1, True)
        self.assertEqual(res, "+QFUPL: 3,4434")
        self.expect_ok('AT+QFDEL="odd"')
        self.expect_ok("AT+CMEE=1")
        self.expect_error('AT+QFDEL="odd"', "+CME ERROR: 405")
        self.expect_error('AT+QFUPL="huge",5000000,2,1', "+CME ERROR: 419")
        self.assertIn("> [data %d bytes]" % len(data), self.sim.log_lines())

    def test_upload_without_waiting_loses_bytes(self):
        self.start("--ack-turnaround", "20")
        self.expect_ok("ATE0")
        data = os.urandom(8 * 1024)
        res, _ = self.upload("blob.bin", data, 0, False, timeout_s=1)
        got = int(res.split(":")[1].split(",")[0])
        self.assertLess(got, len(data))

    def test_rtscts_blast_loses_nothing(self):
        self.start("--ack-turnaround", "20", "--flow", "rtscts")
        self.expect_ok("ATE0")
        data = os.urandom(8 * 1024)
        res, _ = self.upload("blob.bin", data, 0, False)
        self.assertEqual(res, "+QFUPL: %d,%x" % (len(data), xor16(data)))

    def test_field_listing_and_checksums(self):
        self.start("--ufs-prefix", "--ufs-dir", "security/", "--checksum-style", "upper-padded")
        self.expect_ok("ATE0")
        data = bytes([0x00, 0x0A, 0x00, 0x01])  # checksum 0x000b: padding shows
        res, _ = self.upload("a.bin", data, 1, False)
        self.assertEqual(res, "+QFUPL: 4,000B")
        self.expect_ok("AT+QFLST", ['+QFLST: "UFS:security/",0', '+QFLST: "UFS:a.bin",4'])
        self.expect_ok('AT+QFLST="a.bin"', ['+QFLST: "UFS:a.bin",4'])
        self.m.write('AT+QFDWL="a.bin"\r')
        self.m.until("CONNECT")
        self.assertEqual(self.m.read_bytes(4), data)
        self.assertEqual(self.m.line(), "+QFDWL: 4,000B")

    def test_missing_file_answers(self):
        for answer, final in (("error", "ERROR"), ("418", "+CME ERROR: 418"),
                              ("405", "+CME ERROR: 405")):
            self.start("--missing-file", answer)
            self.expect_ok("AT+CMEE=1")
            for command in ('AT+QFDEL="x"', 'AT+QFDWL="x"', 'AT+QFLST="x"'):
                self.expect_error(command, final)
            self.sim.stop()
            self.sim = None

    def test_upload_stall(self):
        for end, final in (("report", "+QFUPL: 3000,*"), ("error", "+CME ERROR: 421"),
                           ("silent", None)):
            m = self.start("--upload-stall", "3000:" + end)
            self.expect_ok("ATE0")
            self.expect_ok("AT+CMEE=1")
            data = os.urandom(5000)
            m.write('AT+QFUPL="s.bin",%d,1,1\r' % len(data))
            m.until("CONNECT")
            acks = 0
            for off in range(0, len(data), 1024):
                m.write(data[off : off + 1024])
                if off + 1024 > 3000:
                    break
                self.assertEqual(m.read_bytes(1), b"A")
                acks += 1
            self.assertEqual(acks, 2)
            self.assertTrue(m.quiet(0.3))  # no third ack: stuck
            if final:
                self.assertTrue(m.until(final, 5))
            else:
                self.assertTrue(m.quiet(2.5))  # its 1 s timeout (whole seconds) ran out
            self.expect_ok("AT")  # back in command mode
            self.sim.stop()
            self.sim = None

    def test_identity_after_boot(self):
        m = self.start("--identity-fail", "cme14:2")
        self.expect_ok("ATE0")
        self.expect_ok("AT+CMEE=1")
        self.expect_error("ATI", "+CME ERROR: 14")
        self.expect_error("AT+CGSN=1", "+CME ERROR: 14")
        self.expect_ok("ATI", ["Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A01"])
        self.sim.control_cmd("identity-fail partial:2")
        self.expect_ok("ATI", ["Quectel_Ltd", "Quectel_BC65"])
        self.expect_ok("AT+CGSN=1", [])
        self.expect_ok("AT+CGSN=1", ["+CGSN: 866425030000001"])
        self.sim.control_cmd("identity-fail manufacturer:1")
        self.expect_ok("ATI", ["Quectel_Ltd"])
        self.sim.control_cmd("identity-fail error:1")
        self.expect_error("AT+CGMR", "ERROR")
        self.expect_ok("AT+CGMR", ["BC65JAR01A01"])
        self.sim.control_cmd("identity-fail silent:1")
        m.write("ATI\r")
        self.assertTrue(m.quiet(0.5))
        self.expect_ok("ATI", ["Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A01"])

    def test_app_rdy_after_rdy(self):
        m = self.start("--app-rdy", "1000", "--revision", "BC65JAR01A02_BETA0203")
        self.expect_ok("AT+CMEE=1")
        self.sim.control_cmd("identity-fail cme14:app")
        self.sim.control_cmd("reboot")
        m.until("RDY")
        self.expect_ok("AT+CMEE=1")
        self.expect_error("ATI", "+CME ERROR: 14")
        m.until("APP RDY", 5)
        self.expect_ok("ATI", ["Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A02_BETA0203"])

    def test_local_upgrade(self):
        pack = self.package("fota.pack", "BC65JAR01A01", "BC65JAR01A03")
        self.start()
        self.expect_ok("ATE0")
        self.expect_ok("AT+CMEE=1")
        self.expect_error("AT+QFOTADL=1", "+CME ERROR: 6506")
        res, _ = self.upload("fota.pack", pack, 1, True)
        self.assertEqual(res, "+QFUPL: %d,%x" % (len(pack), xor16(pack)))
        self.expect_ok("AT+QFOTADL=1")
        lines = self.m.until(qind("END", 0))
        self.assertEqual(lines[0], qind("START"))
        self.assertEqual(len(lines), 13)
        self.m.until("+CPIN: READY")
        self.assertEqual(self.revision(), "Revision: BC65JAR01A03")
        self.expect_ok('AT+QFLST="fota.pack"', ['+QFLST: "fota.pack",%d' % len(pack)])
        # same package again: the base no longer matches
        self.expect_ok("ATE0")
        self.expect_ok("AT+QFOTADL=1")
        self.assertEqual(self.m.until('+QIND: "FOTA","END",*')[-1], qind("END", 6508))

    def test_local_invalid_package(self):
        pack = self.package("fota.pack", "BC65JAR01A01", "BC65JAR01A03", "--corrupt")
        self.start()
        self.expect_ok("ATE0")
        self.upload("fota.pack", pack, 1, True)
        self.expect_ok("AT+QFOTADL=1")
        self.assertEqual(self.m.until('+QIND: "FOTA","END",*'), [qind("START"), qind("END", 6507)])


class TestControl(SimTest):
    def test_sleep_wakeup(self):
        m = self.start("--sleep-after", "10000")  # 200 ms at this time scale
        self.expect_ok("ATE0")
        m.until("+QATSLEEP")
        m.write("AT+CESQ\r")  # lost: only wakes the module
        self.assertEqual(m.line(), "+QATWAKEUP")
        self.expect_ok("AT+QSCLK=0")
        self.assertTrue(m.quiet(0.5))  # 2.5x the idle time: no sleep while QSCLK=0
        self.assertNotIn("< +CESQ: 99,99,255,255,20,45", self.sim.log_lines())
        self.assertIn("> AT+CESQ", self.sim.log_lines())

    def test_faults(self):
        m = self.start()
        self.expect_ok("ATE0")
        self.sim.control_cmd("urc +CSCON: 1")
        self.assertEqual(m.line(), "+CSCON: 1")
        self.sim.control_cmd("silence on")
        m.write("AT\r")
        self.assertTrue(m.quiet(0.2))
        self.sim.control_cmd("silence off")
        self.expect_ok("AT")
        self.sim.control_cmd("delay 300")
        t0 = time.monotonic()
        self.expect_ok("AT")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.sim.control_cmd("reboot")
        self.assertEqual(m.line(), "RDY")
        self.assertEqual(m.line(), "+CPIN: READY")
        self.sim.control_cmd("sleep")
        self.assertEqual(m.line(), "+QATSLEEP")
        m.close()
        self.sim.modem = None
        self.sim.control_cmd("unplug")
        self.assertFalse(os.path.lexists(self.sim.link))
        with open(self.sim.control, "w") as f:
            f.write("replug\n")
        out = sorted([self.sim.stdout_line(), self.sim.stdout_line()])
        self.assertEqual(out[0], "OK replug")
        self.assertTrue(out[1].startswith("READY /dev/"), out)
        self.m = self.sim.modem = m = Modem(self.sim.link)
        self.assertEqual(m.until("+CPIN: READY")[-2:], ["RDY", "+CPIN: READY"])
        self.expect_ok("AT")

    def test_noise_keeps_answers(self):
        self.start("--noise")
        # Noise is random (before a third of the answer lines, and every 20-150 ms): go on
        # with round trips, at least five, until the log shows some, within a deadline.
        deadline = time.monotonic() + 10
        rounds = 0
        while True:
            self.m.write("AT+CGSN=1\r")
            self.m.until("+CGSN: 866425030000001")
            self.m.until("OK")
            rounds += 1
            noisy = any(ln.startswith("< [noise") for ln in self.sim.log_lines())
            if (rounds >= 5 and noisy) or time.monotonic() > deadline:
                break
        self.assertTrue(noisy, "no noise in %d round trips" % rounds)
        self.sim.control_cmd("noise off")
        self.expect_ok("AT+CGSN=1", ["+CGSN: 866425030000001"])

    def test_baud_pacing(self):
        m = self.start("--baud", "9600")  # 960 bytes/s
        self.expect_ok("ATE0")
        data = os.urandom(960)
        self.upload_quick(data)
        m.write('AT+QFDWL="x"\r')
        m.until("CONNECT")
        t0 = time.monotonic()
        self.assertEqual(m.read_bytes(len(data)), data)
        self.assertGreater(time.monotonic() - t0, 0.7)

    def upload_quick(self, data):
        self.m.write('AT+QFUPL="x",%d,2,1\r' % len(data))
        self.m.until("CONNECT")
        self.m.write(data)
        self.m.until("OK", 10)


def main():
    global SIM, HTTPD
    if len(sys.argv) < 3:
        sys.exit("usage: test-sim.py DFOTA_SIM HTTPD_PY [unittest args]")
    SIM = os.path.abspath(sys.argv[1])
    HTTPD = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
