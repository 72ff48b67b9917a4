#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every benchmark against baselines measured in the same run and prints one
# table (docs/performance.md explains the method).
#
#   bench/run-bench.sh [--smoke] [--idle-seconds S] [BUILD_DIR]
#
# Builds nothing: BUILD_DIR (default build/) must hold a built tree. Under `meson test` the
# paths come from the environment (DFOTAD, DFOTA_SIM, DFOTA_BENCH, DFOTA_MINIMAL_OWNER,
# DFOTA_HTTPD). It starts its own dbus-daemon, HTTP server, simulators and daemons, and stops
# each by its PID. --smoke runs everything briefly (under a minute) to show that it executes.
# Exit status: 0 when every benchmark ran (missed targets are reported, not failed), 1 when one
# could not run, 2 on a usage error.
set -u

SMOKE=0
IDLE_SECONDS=""
BUILD=""
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) SMOKE=1 ;;
	--idle-seconds) IDLE_SECONDS="$2"; shift ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	-*) echo "run-bench.sh: unknown option $1" >&2; exit 2 ;;
	*) BUILD="$1" ;;
	esac
	shift
done
BUILD=${BUILD:-${DFOTA_BUILD_DIR:-build}}
SRC=$(cd "$(dirname "$0")/.." && pwd)
DFOTAD=${DFOTAD:-$BUILD/daemon/dfotad}
SIM=${DFOTA_SIM:-$BUILD/tests/sim/dfota-sim}
BENCH=${DFOTA_BENCH:-$BUILD/bench/dfota-bench}
MINIMAL=${DFOTA_MINIMAL_OWNER:-$BUILD/bench/minimal-owner}
FLOOR=${DFOTA_FLOOR_MODEM:-$BUILD/bench/floor-modem}
HTTPD=${DFOTA_HTTPD:-$SRC/tests/httpd.py}
PYBENCH=$SRC/bench/bench-python-command.py
# The Python-client variant of item 1 needs PyGObject (python3-gi): the first interpreter
# that has it (a python3 of a virtualenv or pyenv first in PATH may not).
PYTHON_GI=${DFOTA_PYTHON_GI:-}
if [ -z "$PYTHON_GI" ]; then
	for py in python3 /usr/bin/python3; do
		if "$py" -c 'import gi' 2>/dev/null; then PYTHON_GI=$py; break; fi
	done
fi
[ -n "$PYTHON_GI" ] || { echo "run-bench.sh: no python3 with PyGObject (python3-gi)" >&2; exit 1; }
for f in "$DFOTAD" "$SIM" "$BENCH" "$MINIMAL" "$FLOOR"; do
	if [ ! -x "$f" ]; then
		echo "run-bench.sh: $f is missing; build first (meson setup build && ninja -C build)" >&2
		exit 1
	fi
done

if [ $SMOKE = 1 ]; then
	IDLE_SECONDS=${IDLE_SECONDS:-3}; RUNS=2; RTT_N=50; TP_S=0.5; URC_N=20
	UPL_KIB=2; UPL_REPEAT=1; FETCH_N=1; MEM_N=4; MEM_KIB=1024; TP_ROUNDS=1
	SCALE_COUNTS=1,4; SCALE_S=0.5; JOBS_N=20
else
	IDLE_SECONDS=${IDLE_SECONDS:-30}; RUNS=5; RTT_N=3000; TP_S=3; URC_N=1000
	UPL_KIB=64; UPL_REPEAT=3; FETCH_N=5; MEM_N=16; MEM_KIB=4096; TP_ROUNDS=3
	SCALE_COUNTS=1,4,16; SCALE_S=3; JOBS_N=1000
fi

W=$(mktemp -d /tmp/dfota-bench.XXXXXX)
PIDS=()
RESULTS=$W/results
: > "$RESULTS"

cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		wait "${PIDS[i]}" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "run-bench.sh: $*" >&2
	for log in "$W"/*.log; do
		[ -s "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
	done
	exit 1
}

# wait_for TEST-EXPRESSION WHAT: a deadline-bounded wait for a file event
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		eval "$1" && return 0
		sleep 0.05
	done
	fail "timed out waiting for $2"
}

# start_sim NAME [OPTIONS]: a simulator on $W/NAME.tty with control FIFO and log
start_sim() {
	local name=$1; shift
	"$SIM" --link "$W/$name.tty" --control "$W/$name.ctl" --log "$W/$name.sim" "$@" \
		> "$W/$name.out" 2>&1 &
	PIDS+=($!)
	wait_for "grep -q '^READY' '$W/$name.out' && [ -p '$W/$name.ctl' ]" "simulator $name"
}

# run LABEL COMMAND...: a benchmark; its rows go to the table, the rest to the terminal
run() {
	local label=$1; shift
	echo "== $label" >&2
	if ! "$@" > "$W/step.out" 2> "$W/step.err"; then
		cat "$W/step.out" "$W/step.err" >&2
		fail "benchmark '$label' could not run"
	fi
	grep -v '^|' "$W/step.out" >&2
	grep '^|' "$W/step.out" >> "$RESULTS"
}

# ---- the private bus ----
cat > "$W/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$W</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$W/bus.conf" --nofork --nopidfile --print-address=1 \
	> "$W/bus.addr" 2> "$W/bus.log" &
PIDS+=($!)
wait_for "[ -s '$W/bus.addr' ]" "dbus-daemon"
export DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$W/bus.addr")
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID

# Every simulator behind a measured AT path has the same options as its direct twin.
SIMOPTS=(--ack-turnaround 0 --time-scale 0.01)

# ---- 6, 7: startup and idle (dfotad started and stopped by dfota-bench itself) ----
start_sim idle "${SIMOPTS[@]}"
start_sim direct "${SIMOPTS[@]}"
mkdir -p "$W/state-idle"
run "6/7 startup and idle" "$BENCH" idle --daemon "$DFOTAD" --minimal "$MINIMAL" \
	--port "$W/idle.tty" --sim-log "$W/idle.sim" --direct "$W/direct.tty" \
	--state-dir "$W/state-idle" --seconds "$IDLE_SECONDS" --runs "$RUNS"

# ---- 8, modems: one daemon per count (dfota-bench starts and stops them and their sims) ----
mkdir -p "$W/scale"
run "8 scale: modems" "$BENCH" scale-modems --daemon "$DFOTAD" --sim "$SIM" --dir "$W/scale" \
	--counts "$SCALE_COUNTS" --seconds "$SCALE_S"

# ---- the daemon for 1-5: modems in configuration order = object paths ----
UPLOADS=(115200:0 115200:5 115200:20 921600:0 921600:5 921600:20)
cat > "$W/dfotad.conf" <<EOF
[daemon]
max-package-size=8388608
max-queue=64

[modem at]
port=$W/at.tty

[modem side]
port=$W/side.tty
EOF
start_sim at "${SIMOPTS[@]}"
start_sim side "${SIMOPTS[@]}"
for u in "${UPLOADS[@]}"; do
	baud=${u%:*}; ta=${u#*:}
	start_sim "u$baud-$ta" --baud "$baud" --ack-turnaround "$ta" --time-scale 0.01
	printf '\n[modem u%s-%s]\nport=%s\nbaud=%s\n' "$baud" "$ta" "$W/u$baud-$ta.tty" "$baud" \
		>> "$W/dfotad.conf"
done
for baud in 115200 921600; do
	start_sim "r$baud" --baud "$baud" --flow rtscts --ack-turnaround 0 --time-scale 0.01
	printf '\n[modem r%s]\nport=%s\nbaud=%s\nflow=rtscts\n' "$baud" "$W/r$baud.tty" "$baud" \
		>> "$W/dfotad.conf"
done
# Memory under concurrent uploads: an unpaced line, room in UFS for every file.
start_sim mem --flow rtscts --ack-turnaround 0 --time-scale 0.01 --ufs-size 83886080
printf '\n[modem mem]\nport=%s\nflow=rtscts\n' "$W/mem.tty" >> "$W/dfotad.conf"
# Many clients on a line paced at 115200 baud, against a direct twin paced alike.
start_sim paced --baud 115200 --ack-turnaround 0 --time-scale 0.01
start_sim pdirect --baud 115200 --ack-turnaround 0 --time-scale 0.01
printf '\n[modem paced]\nport=%s\nbaud=115200\n' "$W/paced.tty" >> "$W/dfotad.conf"
mkdir -p "$W/state" "$W/www"
"$DFOTAD" --session --config "$W/dfotad.conf" --state-dir "$W/state" > "$W/dfotad.log" 2>&1 &
PIDS+=($!)
DFOTAD_PID=$!
# The floors of benchmark 1: the least a GDBus and an sd-bus service can do for Command, each
# on its own twin simulator.
for lib in gdbus sd-bus; do
	start_sim "floor-$lib" "${SIMOPTS[@]}"
	"$FLOOR" --library "$lib" --name "org.dfotad1.BenchFloor${lib//-/}" \
		--pty "$W/floor-$lib.tty" > "$W/floor-$lib.log" 2>&1 &
	PIDS+=($!)
done
FLOORS=(--floor GDBus=org.dfotad1.BenchFloorgdbus --floor sd-bus=org.dfotad1.BenchFloorsdbus)
"$MINIMAL" --name org.dfotad1.BenchEmitter --fifo "$W/emit.fifo" > "$W/emitter.log" 2>&1 &
PIDS+=($!)
head -c 1048576 /dev/urandom > "$W/www/package.bin"
head -c 4096 /dev/urandom > "$W/www/small.bin"
python3 "$HTTPD" --root "$W/www" --port-file "$W/http.port" 2> "$W/httpd.log" &
PIDS+=($!)
wait_for "[ -s '$W/http.port' ]" "httpd"
URL="http://127.0.0.1:$(cat "$W/http.port")/package.bin"

M=/org/dfotad1/Modem
run "1 AT round trip" "$BENCH" rtt --direct "$W/direct.tty" --modem $M/0 -n "$RTT_N" "${FLOORS[@]}"
run "1p AT round trip, PyGObject client" "$PYTHON_GI" "$PYBENCH" --direct "$W/direct.tty" \
	--modem $M/0 -n "$RTT_N" "${FLOORS[@]}"
run "2 throughput" "$BENCH" throughput --direct "$W/direct.tty" --modem $M/0 \
	--clients 1,8,32 --seconds "$TP_S" --rounds "$TP_ROUNDS" "${FLOORS[@]}"
run "3 URC latency" "$BENCH" urc --control "$W/at.ctl" --modem $M/0 \
	--emitter-fifo "$W/emit.fifo" --emitter-name org.dfotad1.BenchEmitter -n "$URC_N"
i=2
for u in "${UPLOADS[@]}"; do
	baud=${u%:*}; ta=${u#*:}
	run "4 upload $baud/$ta ms" "$BENCH" upload --modem $M/$i --baud "$baud" \
		--turnaround "$ta" --kib "$UPL_KIB" --repeat "$UPL_REPEAT"
	i=$((i + 1))
done
for baud in 115200 921600; do
	run "4 upload $baud rtscts" "$BENCH" upload --modem $M/$i --baud "$baud" --flow rtscts \
		--kib "$UPL_KIB" --repeat "$UPL_REPEAT"
	i=$((i + 1))
done
run "4 upload memory" "$BENCH" upload --modem $M/$i --flow rtscts --baud 921600 \
	--kib "$MEM_KIB" --concurrent "$MEM_N"
run "2 throughput, paced line" "$BENCH" throughput --paced --direct "$W/pdirect.tty" \
	--modem $M/$((i + 1)) --clients 1,8 --seconds "$TP_S" --rounds "$TP_ROUNDS"
run "5 host download" "$BENCH" fetch --modem $M/0 --side $M/1 --url "$URL" -n "$FETCH_N"
# ---- 8, jobs in a row: after every other use of this daemon ----
run "8 scale: jobs in a row" "$BENCH" scale-jobs --modem $M/1 --pid "$DFOTAD_PID" \
	--state-dir "$W/state" --url "${URL%/*}/small.bin" -n "$JOBS_N"

echo
echo "dfotad benchmarks ($([ $SMOKE = 1 ] && echo smoke || echo full) run): $(nproc) CPUs," \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
echo
echo "| benchmark | measured | baseline (same run) | ratio | target | verdict |"
echo "|---|---|---|---|---|---|"
cat "$RESULTS"
exit 0
