#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# valgrind.sh BUILD_DIR [TEST...]: the daemon integration tests with every dfotad they start
# (also the ones they restart) running under valgrind's memcheck. Fails on memory errors and
# on definite leaks.
#
# BUILD_DIR must be a build WITHOUT sanitizers (ASan and valgrind do not mix), e.g.
#   meson setup build-vg -Db_sanitize=none && tests/valgrind.sh build-vg
#
# How: the tests take the daemon's path from $DFOTAD. `meson test` would set that variable
# itself, so the test programs are run directly here, with DFOTAD pointing at a small wrapper
# script that execs valgrind on the real binary. valgrind's --error-exitcode makes the daemon
# exit non-zero, and the harness fails a test whose daemon does not exit cleanly on SIGTERM;
# the per-process valgrind logs are also scanned, so a daemon killed on purpose (SIGKILL in
# the restart tests) that had already reported errors is caught too.
#
# Default tests: the integration programs that finish in a few minutes under valgrind; the
# 50-client load test is left out (it measures throughput, not memory), the soak runs 10 jobs.
set -euo pipefail

if [[ $# -lt 1 ]]; then
	echo "usage: $0 BUILD_DIR [TEST...]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
src=$(cd "$(dirname "$0")/.." && pwd)
tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then
	tests=(test-modem test-upgrade test-errors-sync test-errors-urc test-refusals
		test-restart test-faults test-soak)
fi

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
sanitize=$(meson introspect --buildoptions "$build" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"))')
if [[ "$sanitize" != "none" ]]; then
	echo "$build is built with b_sanitize=$sanitize; valgrind needs a build without sanitizers" >&2
	exit 2
fi
ninja -C "$build" >/dev/null

daemon="$build/daemon/dfotad"
for t in "${tests[@]}"; do
	[[ -x "$build/tests/integration/$t" ]] || { echo "no test program $t in $build" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/dfotad-valgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/logs"
cat >"$work/dfotad-vg" <<EOF
#!/bin/sh
exec valgrind --quiet --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --error-exitcode=99 --num-callers=30 \\
	--log-file="$work/logs/vg-%p.log" "$daemon" "\$@"
EOF
chmod +x "$work/dfotad-vg"

export DFOTAD="$work/dfotad-vg"
export DFOTA_SIM="$build/tests/sim/dfota-sim"
export HTTPD="$src/tests/httpd.py"
export PYTHON="$(command -v python3)"
export DBUS_DAEMON="$(command -v dbus-daemon)"
export G_DEBUG=fatal-criticals
export DFOTA_SOAK_JOBS="${DFOTA_SOAK_JOBS:-10}"
# RSS under valgrind is valgrind's own; the fd count is still checked.
export DFOTA_SOAK_RSS_CHECK=0
if [[ -x "$build/client/dfotactl" ]]; then
	export DFOTACTL="$build/client/dfotactl"
fi

failed=0
# Two at a time: CI has two cores, and each test spends most of its time waiting.
run_one() {
	local t=$1 start rc
	start=$(date +%s)
	if timeout 900 "$build/tests/integration/$t" >"$work/$t.out" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	echo "$t: exit $rc in $(( $(date +%s) - start )) s" >"$work/$t.status"
	return "$rc"
}
pids=()
names=()
for t in "${tests[@]}"; do
	run_one "$t" &
	pids+=($!)
	names+=("$t")
	if [[ ${#pids[@]} -ge 2 ]]; then
		wait "${pids[0]}" || true
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

for t in "${names[@]}"; do
	cat "$work/$t.status"
	if ! grep -q "exit 0 " "$work/$t.status"; then
		failed=1
		tail -n 60 "$work/$t.out"
	fi
done

# Any valgrind report with errors or definite leaks fails the step, whatever the exit code.
reports=0
# valgrind's notes about ioctls it has no wrapper for (TIOCEXCL on the tty) are not errors.
benign='Warning: noted but unhandled ioctl|This could cause spurious value errors|README_MISSING_SYSCALL_OR_IOCTL'
for log in "$work"/logs/vg-*.log; do
	if ! grep -Ev "$benign" "$log" | grep -q .; then
		continue
	fi
	reports=$((reports + 1))
	echo "==== valgrind report $(basename "$log") ===="
	grep -Ev "$benign" "$log"
	failed=1
done
echo "valgrind: ${#names[@]} test programs, $(ls "$work"/logs | wc -l) daemon processes," \
	"$reports with reports"
exit "$failed"
