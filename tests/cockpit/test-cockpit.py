#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page in a real browser.

Debian 12's cockpit-ws (--no-tls, --local-session=cockpit-bridge, on 127.0.0.1) serves the page
from cockpit/ (made visible to cockpit-bridge through XDG_DATA_DIRS), cockpit-bridge talks to a
private dbus-daemon through DBUS_SYSTEM_BUS_ADDRESS, dfotad runs on that bus (--session with
DBUS_SESSION_BUS_ADDRESS set to the same address) in front of the project's simulator, and
headless Chromium driven by python3-selenium and chromium-driver uses the page as an operator
would: it reads the modem, is refused a bad URL, starts upgrades and watches them to the end.

    test-cockpit.py --build BUILD_ROOT --source SOURCE_ROOT

Everything runs in a temporary directory and every process started here is stopped by its PID.
The needed packages are installed by tests/setup.sh; when one is missing the test fails (it
never skips: CI must run it). DFOTAD_COCKPIT_SCREENSHOTS=DIR saves screenshots there (one taken
mid-job); DFOTAD_KEEP_TMP=1 keeps the temporary directory.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FROM_REV = "BC65JAR01A01"
TO_REV = "BC65JAR01A02"
NEXT_REV = "BC65JAR01A03"
# Cap on each wait for an event; generous because the machine may be loaded. Waits end as soon
# as the event happens.
WAIT_S = 90
COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
PACKAGES = {
    COCKPIT_WS: "cockpit-ws",
    "/usr/bin/cockpit-bridge": "cockpit-bridge",
    "/usr/share/cockpit/base1/cockpit.js.gz": "cockpit-bridge",
    "/usr/bin/chromium": "chromium",
    "/usr/bin/chromedriver": "chromium-driver",
}
PAGE_FILES = {"manifest.json", "index.html", "dfotad.js", "dfotad.css"}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}", flush=True)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


def check_packages():
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not os.path.exists(path)})
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        print(f"FAIL: missing Debian packages: {', '.join(missing)} "
              "(tests/setup.sh installs them)", flush=True)
        sys.exit(1)


class Processes:
    """Processes started by the test, stopped by PID in reverse start order."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, argv, env=None, stdout=None):
        """Starts argv with stderr (and stdout, unless a path is given) in NAME.log."""
        log = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        out = open(stdout, "wb") if stdout else log
        proc = subprocess.Popen(argv, stdout=out, stderr=log, env=env, start_new_session=True)
        out.close()
        log.close()
        self.procs.append((name, proc))
        return proc

    def stop_all(self):
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it", flush=True)
                proc.kill()
                proc.wait()
        self.procs = []

    def dump_logs(self):
        for name, _ in self.procs:
            path = os.path.join(self.tmp, f"{name}.log")
            try:
                with open(path, errors="replace") as f:
                    lines = f.readlines()[-25:]
            except OSError:
                continue
            print(f"--- last lines of {name}.log ---\n{''.join(lines)}", flush=True)


def wait_until(what, cond, procs=(), cap=WAIT_S):
    """Waits for cond() to become true (it watches a file or a socket), or fails."""
    deadline = time.monotonic() + cap
    while True:
        if cond():
            return
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: the process exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {cap} s")
        time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def check_meson_installs_page(build, source):
    """The page is served from the source tree below; make sure meson installs the same files
    to $datadir/cockpit/dfotad/, which is what the Debian package ships."""
    out = subprocess.run(["meson", "introspect", build, "--installed"], capture_output=True,
                         text=True, check=True).stdout
    installed = json.loads(out)
    page_dir = os.path.join(source, "cockpit")
    want = {os.path.realpath(os.path.join(page_dir, f)) for f in PAGE_FILES}
    got = {os.path.realpath(src): dst for src, dst in installed.items()
           if os.path.realpath(src) in want}
    check(set(got) == want, "meson installs manifest.json, index.html, dfotad.js, dfotad.css")
    check(all(os.path.dirname(d).endswith("/cockpit/dfotad") for d in got.values()),
          "... into $datadir/cockpit/dfotad/")
    shipped = {f for f in os.listdir(page_dir) if f != "meson.build"}
    check(shipped == PAGE_FILES, f"cockpit/ holds only the installed files ({sorted(shipped)})")


# Records every text the page shows in #job-phase and #job-percent, so that the test sees each
# value on screen however briefly it was there, without sampling.
RECORDER = """
window.dfotaSeen = [];
const note = () => window.dfotaSeen.push([
    document.getElementById('job-phase').textContent,
    document.getElementById('job-percent').textContent]);
const observer = new MutationObserver(note);
for (const id of ['job-phase', 'job-percent'])
    observer.observe(document.getElementById(id),
                     {childList: true, characterData: true, subtree: true});
note();
"""


def run(args, tmp, procs):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    build, source = os.path.abspath(args.build), os.path.abspath(args.source)
    dfotad = os.path.join(build, "daemon", "dfotad")
    sim = os.path.join(build, "tests", "sim", "dfota-sim")
    httpd = os.path.join(source, "tests", "httpd.py")
    check_meson_installs_page(build, source)

    # A private bus: the daemon's "session" bus and the bridge's "system" bus at once.
    bus = procs.start("dbus", ["dbus-daemon", "--session", "--nofork",
                               f"--address=unix:path={tmp}/bus", "--print-address=1"],
                      stdout=f"{tmp}/bus.address")

    def address_written():
        with open(f"{tmp}/bus.address") as f:
            return f.read().endswith("\n")
    wait_until("dbus-daemon", address_written, [bus])
    with open(f"{tmp}/bus.address") as f:
        address = f.readline().strip()

    www = os.path.join(tmp, "www")
    os.mkdir(www)
    for name, frm, to in (("update.pack", FROM_REV, TO_REV), ("next.pack", TO_REV, NEXT_REV)):
        subprocess.run([sim, "--make-package", os.path.join(www, name), "--from", frm,
                        "--to", to], check=True, capture_output=True)
    httpd_proc = procs.start("httpd", [sys.executable, httpd, "--root", www,
                                       "--port-file", f"{tmp}/http-port"])
    wait_until("httpd.py", lambda: os.path.exists(f"{tmp}/http-port"), [httpd_proc])
    with open(f"{tmp}/http-port") as f:
        http_port = int(f.read().strip())

    # --time-scale 2: 400 ms per 10 % step, so that every phase stays on screen for seconds.
    link = os.path.join(tmp, "ttyBC65")
    sim_proc = procs.start("sim", [sim, "--link", link, "--model", "BC65", "--revision",
                                   FROM_REV, "--time-scale", "2", "--log", f"{tmp}/at.log"])
    wait_until("dfota-sim", lambda: os.path.lexists(link), [sim_proc])

    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    daemon = {}

    def start_dfotad(name, config=None):
        where = ["--config", config] if config else ["--port", link]
        daemon["proc"] = procs.start(name, [dfotad, "--session", *where, "--state-dir",
                                            f"{tmp}/state"], env=env)
    start_dfotad("dfotad")

    def start_second_modem():
        """A BC92 next to the BC65; returns a configuration with both, the BC65 first."""
        link2 = os.path.join(tmp, "ttyBC92")
        sim2 = procs.start("sim-bc92", [sim, "--link", link2, "--model", "BC92", "--revision",
                                        "BC92RBR01A01"])
        wait_until("the second dfota-sim", lambda: os.path.lexists(link2), [sim2])
        config = os.path.join(tmp, "two-modems.conf")
        with open(config, "w") as f:
            f.write(f"[modem first]\nport={link}\n\n[modem second]\nport={link2}\n")
        return config
    daemon["second_modem"] = start_second_modem

    # cockpit-bridge finds packages in $XDG_DATA_DIRS/cockpit; HOME is private so that no
    # ~/.local/share/cockpit of the machine's user leaks in.
    share = os.path.join(tmp, "share")
    os.makedirs(os.path.join(share, "cockpit"))
    os.symlink(os.path.join(source, "cockpit"), os.path.join(share, "cockpit", "dfotad"))
    os.makedirs(os.path.join(tmp, "home"))
    ws_port = free_port()
    ws_env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, HOME=os.path.join(tmp, "home"),
                  XDG_DATA_DIRS=f"{share}:/usr/local/share:/usr/share")
    ws_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    ws = procs.start("cockpit-ws", [COCKPIT_WS, "--no-tls", "--local-session=cockpit-bridge",
                                    "--port", str(ws_port), "--address", "127.0.0.1"],
                     env=ws_env)
    wait_until("cockpit-ws", lambda: accepts(ws_port), [ws])

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,1300", f"--user-data-dir={tmp}/chromium"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service("/usr/bin/chromedriver", log_path=f"{tmp}/chromedriver.log")
    driver = webdriver.Chrome(service=service, options=options)
    try:
        browse(driver, By, WebDriverWait, ws_port, http_port, tmp, daemon, start_dfotad)
        # Script errors and content security policy violations (an inline script or style the
        # policy blocks) show up in the console; the page must cause none.
        severe = [e.get("message", "") for e in driver.get_log("browser")
                  if e.get("level") == "SEVERE"]
        for message in severe:
            print(f"browser: {message}", flush=True)
        check(not severe, f"no errors in the browser console ({len(severe)})")
    finally:
        driver.quit()


def browse(driver, By, WebDriverWait, ws_port, http_port, tmp, daemon, start_dfotad):
    base = f"http://127.0.0.1:{ws_port}"
    shots = os.environ.get("DFOTAD_COCKPIT_SCREENSHOTS")

    def text(element_id):
        return driver.find_element(By.ID, element_id).text

    def wait_for(what, cond):
        def probe(_):
            proc = daemon["proc"]
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"dfotad exited with status {proc.returncode}")
            return cond()
        try:
            WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(probe)
        except Exception as e:
            shown = " | ".join(f"{i}={text(i)!r}" for i in (
                "modem-model", "modem-revision", "modem-state", "job-phase", "job-percent",
                "last-result", "error", "daemon-status"))
            raise RuntimeError(f"waiting for {what}: {type(e).__name__} {e}; page: {shown}")

    def start(url, via_host=False):
        field = driver.find_element(By.ID, "upgrade-url")
        field.clear()
        field.send_keys(url)
        box = driver.find_element(By.ID, "upgrade-via-host")
        if box.is_selected() != via_host:
            box.click()
        driver.find_element(By.ID, "upgrade-start").click()

    def at_log():
        with open(f"{tmp}/at.log", errors="replace") as f:
            return f.read()

    # The bridge lists the package with its menu entry.
    driver.get(f"{base}/cockpit/@localhost/manifests.json")
    manifests = json.loads(driver.find_element(By.TAG_NAME, "body").text)
    label = manifests.get("dfotad", {}).get("menu", {}).get("index", {}).get("label")
    check(label == "Modem firmware", f"cockpit-bridge serves the page's menu entry ({label!r})")

    driver.get(f"{base}/cockpit/@localhost/dfotad/index.html")
    wait_for("the modem ready on the page", lambda: text("modem-state") == "ready")
    check(text("modem-model") == "Quectel_BC65", f"model shown ({text('modem-model')!r})")
    check(text("modem-revision") == FROM_REV, f"revision shown ({text('modem-revision')!r})")
    imei_row = driver.find_element(By.ID, "modem-imei-label").is_displayed()
    check(imei_row == (text("modem-imei") != ""),
          f"an IMEI row only with an IMEI ({text('modem-imei')!r})")
    check(text("job-phase") == "idle" and text("job-percent") == "0",
          f"no job: idle and 0 ({text('job-phase')!r}, {text('job-percent')!r})")
    check(text("last-result") == "", "no last result yet")
    check(text("error") == "", "no error shown")
    if shots:
        driver.save_screenshot(os.path.join(shots, "dfotad-cockpit-ready.png"))

    # Refused calls: the daemon's error name in #error, nothing on the tty.
    for url, via_host in (("ftp://x", False), ("", False), ("http://a/\"b", False),
                          ("file:///etc/passwd", True)):
        start(url, via_host)
        wait_for(f"InvalidUrl for {url!r}", lambda: text("error").startswith("InvalidUrl"))
        ok(f"{url!r} (via host: {via_host}) refused on the page: {text('error')!r}")
        check(len(text("error")) > len("InvalidUrl: "), "... with the daemon's message")
    check("QFOTADL" not in at_log(), "no refused URL reached the tty")

    # An upgrade started from the page, followed to its end on screen.
    driver.execute_script(RECORDER)
    start(f"http://127.0.0.1:{http_port}/update.pack")
    wait_for("the job under way", lambda: int(text("job-percent")) > 0)
    check(text("error") == "", "the accepted call shows no error")
    check(text("modem-state") == "busy", f"modem busy during the job ({text('modem-state')!r})")
    if shots:
        driver.save_screenshot(os.path.join(shots, "dfotad-cockpit-midjob.png"))
    start(f"http://127.0.0.1:{http_port}/update.pack")
    wait_for("Busy for a second job", lambda: text("error").startswith("Busy"))
    ok(f"a second job while one runs: {text('error')!r}")
    wait_for("the result of the upgrade", lambda: TO_REV in text("last-result"))
    wait_for("idle after the job", lambda: text("job-phase") == "idle")
    seen = driver.execute_script("return window.dfotaSeen;")
    percents = {int(p) for _, p in seen if p.isdigit() and int(p) > 0}
    phases = [ph for ph, _ in seen]
    check(len(percents) >= 2, f"percent moved on screen ({sorted(percents)})")
    for phase in ("downloading", "updating", "idle"):
        check(phase in phases, f"phase {phase} shown")
    check(phases.index("downloading") < phases.index("updating") < len(phases) - 1,
          "phases in order, idle at the end")
    result = text("last-result")
    check(result.startswith("success") and FROM_REV in result and TO_REV in result,
          f"last result: {result!r}")
    check(text("job-percent") == "0", "percent back to 0")
    wait_for("the new revision", lambda: text("modem-revision") == TO_REV)
    ok(f"revision after the upgrade: {text('modem-revision')!r}")
    if shots:
        driver.save_screenshot(os.path.join(shots, "dfotad-cockpit-done.png"))

    # A job that fails shows the error name, its message and the revisions.
    wait_for("the modem ready again", lambda: text("modem-state") == "ready")
    start(f"http://127.0.0.1:{http_port}/missing.pack")
    wait_for("the failed result", lambda: text("last-result").startswith("PackageNotFound"))
    result = text("last-result")
    check(TO_REV in result and len(result) > len("PackageNotFound: ()") + len(TO_REV),
          f"failed last result: {result!r}")
    check(text("error") == "", "a job that fails after it started is no refused call")

    # The checkbox: the gateway downloads the package (UpgradeViaHost).
    wait_for("the modem ready again", lambda: text("modem-state") == "ready")
    driver.execute_script(RECORDER)
    # Paced (about a second) so that the fetching phase lasts long enough to be rendered.
    start(f"http://127.0.0.1:{http_port}/slow/next.pack?bps=20000", via_host=True)
    wait_for("the result of the host-side upgrade", lambda: NEXT_REV in text("last-result"))
    result = text("last-result")
    check(result.startswith("success"), f"host-side last result: {result!r}")
    phases = [ph for ph, _ in driver.execute_script("return window.dfotaSeen;")]
    check("fetching" in phases and "uploading" in phases,
          f"host-side phases shown ({sorted(set(phases))})")
    check("QFUPL" in at_log() and "AT+QFOTADL=1" in at_log(),
          "the checkbox ran the upload and the local upgrade")

    # The daemon goes away and comes back (a package upgrade, a crash): the page says so, then
    # follows the new instance without a reload.
    wait_for("the modem ready again", lambda: text("modem-state") == "ready")
    proc = daemon["proc"]
    daemon["proc"] = None
    proc.terminate()
    proc.wait(timeout=WAIT_S)
    wait_for("the page noticing the daemon left", lambda: "not running" in text("daemon-status"))
    ok(f"daemon gone: {text('daemon-status')!r}")
    check(text("modem-state") == "" and text("modem-revision") == "",
          "no stale modem shown while the daemon is gone")
    start_dfotad("dfotad-restarted")
    wait_for("the restarted daemon on the page",
             lambda: text("daemon-status") == "" and text("modem-state") == "ready")
    check(text("modem-revision") == NEXT_REV,
          f"revision after the restart ({text('modem-revision')!r})")
    start("ftp://again")
    wait_for("InvalidUrl from the restarted daemon",
             lambda: text("error").startswith("InvalidUrl"))
    ok("calls reach the restarted daemon")
    check(not driver.find_element(By.ID, "modem-select").is_displayed(),
          "no modem chooser with one modem")

    # Two modems: the page shows Modem/0 and offers the other one.
    config = daemon["second_modem"]()
    proc = daemon["proc"]
    daemon["proc"] = None
    proc.terminate()
    proc.wait(timeout=WAIT_S)
    wait_for("the page noticing the daemon left", lambda: "not running" in text("daemon-status"))
    start_dfotad("dfotad-two-modems", config)
    chooser = driver.find_element(By.ID, "modem-select")
    wait_for("a modem chooser", lambda: chooser.is_displayed() and
             len(chooser.find_elements(By.TAG_NAME, "option")) == 2)
    wait_for("Modem/0 shown first", lambda: text("modem-model") == "Quectel_BC65" and
             text("modem-state") == "ready")
    chooser.find_elements(By.TAG_NAME, "option")[1].click()
    wait_for("the second modem", lambda: text("modem-model") == "Quectel_BC92" and
             text("modem-state") == "ready" and text("modem-revision") == "BC92RBR01A01")
    ok("the chooser shows the second modem")
    check(text("last-result") == "",
          f"the second modem has no last result ({text('last-result')!r})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    check_packages()

    tmp = tempfile.mkdtemp(prefix="dfotad-cockpit.")
    procs = Processes(tmp)
    try:
        run(args, tmp, procs)
    except Exception as e:  # a setup step or a wait that failed
        fail(f"{type(e).__name__}: {e}")
    finally:
        if failures:
            procs.dump_logs()
        procs.stop_all()
        if os.environ.get("DFOTAD_KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} failure(s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
