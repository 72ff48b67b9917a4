#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A full DFOTA upgrade with no hardware: a simulated BC65 on a pseudo-terminal, a local HTTP
# server with a delta package, dfotad on a private session bus, and dfotactl driving it.
#
#   bash tests/demo.sh            (after building into ./build; BUILD_DIR=... to use another)
#
# Everything lives in a temporary directory; every process started here is stopped by its PID
# when the script ends, however it ends.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
DFOTAD=$BUILD_DIR/daemon/dfotad
DFOTACTL=$BUILD_DIR/client/dfotactl
SIM=$BUILD_DIR/tests/sim/dfota-sim
HTTPD=$ROOT/tests/httpd.py
FROM_REV=BC65JAR01A01
TO_REV=BC65JAR01A02
WAIT_CAP_S=30

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\ndemo: %s\n' "$*" >&2
	for log in "${TMP:-/nonexistent}"/*.log; do
		[ -s "$log" ] || continue
		printf '\n--- last lines of %s ---\n' "$(basename "$log")" >&2
		tail -n 15 "$log" >&2
	done
	exit 1
}

for bin in "$DFOTAD" "$DFOTACTL" "$SIM"; do
	[ -x "$bin" ] || die "$bin is missing: build the project first (or set BUILD_DIR)"
done
[ -f "$HTTPD" ] || die "$HTTPD is missing"
command -v dbus-daemon >/dev/null || die "dbus-daemon is not installed"
command -v python3 >/dev/null || die "python3 is not installed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dfotad-demo.XXXXXX")
PIDS=()

cleanup() {
	local status=$?
	# Stop in reverse start order: dfotad before the modem and the bus it uses.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to WAIT_CAP_S for the command "$2..." to succeed, checking that PID $1 still runs.
wait_for() {
	local pid=$1 what=$2
	shift 2
	local deadline=$((SECONDS + WAIT_CAP_S))
	until "$@"; do
		kill -0 "$pid" 2>/dev/null || die "$what: the process exited"
		((SECONDS < deadline)) || die "$what: not ready after ${WAIT_CAP_S} s"
		sleep 0.1
	done
}

say "Private D-Bus session bus"
dbus-daemon --session --nofork --address="unix:path=$TMP/bus" --print-address=1 \
	>"$TMP/bus.address" 2>"$TMP/dbus.log" &
PIDS+=($!)
wait_for "${PIDS[-1]}" "dbus-daemon" test -s "$TMP/bus.address"
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$TMP/bus.address")
export DBUS_SESSION_BUS_ADDRESS
echo "bus: $DBUS_SESSION_BUS_ADDRESS"

say "Delta package $FROM_REV -> $TO_REV, served on 127.0.0.1"
mkdir -p "$TMP/www"
"$SIM" --make-package "$TMP/www/update.pack" --from "$FROM_REV" --to "$TO_REV" \
	>"$TMP/make-package.log" 2>&1 || die "dfota-sim --make-package failed"
python3 "$HTTPD" --root "$TMP/www" --port-file "$TMP/port" >"$TMP/httpd.log" 2>&1 &
PIDS+=($!)
wait_for "${PIDS[-1]}" "httpd.py" test -s "$TMP/port"
PORT=$(head -n 1 "$TMP/port")
URL="http://127.0.0.1:$PORT/update.pack"
echo "package: $URL ($(stat -c %s "$TMP/www/update.pack") bytes)"

say "Simulated Quectel BC65 running $FROM_REV"
"$SIM" --link "$TMP/ttyBC65" --model BC65 --revision "$FROM_REV" --time-scale 0.1 \
	--spelling seed --log "$TMP/sim.log" >"$TMP/sim.out" 2>"$TMP/sim-stderr.log" &
PIDS+=($!)
sim_ready() { grep -q READY "$TMP/sim.out" 2>/dev/null || [ -e "$TMP/ttyBC65" ]; }
wait_for "${PIDS[-1]}" "dfota-sim" sim_ready
wait_for "${PIDS[-1]}" "dfota-sim" test -e "$TMP/ttyBC65"
echo "modem: $TMP/ttyBC65 -> $(readlink "$TMP/ttyBC65")"

say "dfotad on the private bus"
"$DFOTAD" --session --port "$TMP/ttyBC65" --state-dir "$TMP/state" >"$TMP/dfotad.log" 2>&1 &
PIDS+=($!)
modem_ready() {
	"$DFOTACTL" --session status 2>/dev/null | grep -Eq '^State:[[:space:]]+ready$'
}
wait_for "${PIDS[-1]}" "dfotad (modem state ready)" modem_ready

revision() {
	"$DFOTACTL" --session status | sed -n 's/^Revision:[[:space:]]*//p'
}

say "dfotactl --session status"
"$DFOTACTL" --session status || die "dfotactl status failed"
BEFORE=$(revision)

say "dfotactl --session upgrade $URL"
if ! "$DFOTACTL" --session upgrade "$URL"; then
	die "the upgrade failed (see the error above)"
fi

say "dfotactl --session status"
"$DFOTACTL" --session status || die "dfotactl status failed"
AFTER=$(revision)

echo
echo "Revision before: $BEFORE"
echo "Revision after:  $AFTER"
[ "$BEFORE" = "$FROM_REV" ] || die "the module started at $BEFORE, expected $FROM_REV"
[ "$AFTER" = "$TO_REV" ] || die "the module runs $AFTER after the upgrade, expected $TO_REV"
echo
echo "Demo passed: the simulated module was upgraded over DFOTA through dfotad."
