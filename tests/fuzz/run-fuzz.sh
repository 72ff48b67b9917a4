#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzz.sh: configures a clang build with -Dfuzzing=true (meson_options.txt), builds the
# libFuzzer targets of tests/fuzz/meson.build there and runs each for a bounded time. The main
# build uses gcc and does not need clang.
#
#   bash tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
#     SECONDS_PER_TARGET  default 20 (env FUZZ_SECONDS); CI uses 15
#     BUILD_DIR           default build-fuzz under the source root (env FUZZ_BUILD)
#     FUZZ_TARGETS="fuzz-validate ..."  runs only those targets (default: every target in
#                                       tests/fuzz/meson.build)
# Needs clang and libclang-rt-14-dev (Debian 12) besides the build's own dependencies. The
# same build by hand:
#   CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
#     -Db_lundef=false && meson compile -C build-fuzz fuzz-validate
#   build-fuzz/tests/fuzz/fuzz-validate -max_total_time=60 tests/fuzz/corpus/fuzz-validate
#
# Targets (each a C file linked against the daemon library it tests, all instrumented):
#   fuzz-line-reader  daemon/at/dfota-line-reader.c: bytes fed all at once, byte by byte and in
#                     input-derived fragments must give the same lines, each without CR/LF/
#                     NUL/noise and within the bound, all bytes consumed; checked against an
#                     independent model of the header's rules. Input: byte 0 = line bound,
#                     byte 1 = fragmentation seed, then the bytes the module sends.
#   fuzz-fota-urc     dfota_fota_urc_parse(): the header's promises, and every accepted URC
#                     re-spelt the seed's ways (spaces, '%', case) parses to the same result.
#   fuzz-at-response  dfota_at_parse_final/ati/cesq/cops/cgpaddr/cgact/cgdcont/imei/qflst/
#                     qflds/transfer_result, dfota_at_expected_prefix, is_connect/boot_urc.
#   fuzz-validate     module/host URL, file name and command validators; Xor16 splitting;
#                     URL redaction (no secret byte survives, idempotent).
#   fuzz-cmdline      dfota_cmdline_split/check: commands join back to the normalised line,
#                     each splits alone to itself, a refused command anywhere refuses the line.
#   fuzz-journal      dfota_journal_parse/_parse_progress (daemon/fota/dfota-journal.c): the
#                     bytes of a record or side file as a corrupt disk leaves them; accepted
#                     records hold only the D-Bus API's keys and types, round-trip unchanged,
#                     and are never accepted when the text gives a known key another type.
#   fuzz-job-machine  dfota_job_machine_step() (daemon/fota/dfota-job-machine*.c): event orders
#                     chosen by the input (byte 0: how the job begins; each further byte one
#                     event); one Finished per accepted job, Percent never decreasing within a
#                     phase, the journal before what depends on it, never success without a
#                     changed revision.
#
# Each target uses tests/fuzz/<target>.dict when there is one, else at.dict.
#
# Corpus: tests/fuzz/corpus/<target>/ (regenerate with make-corpus.py from the seed note);
# what the fuzzer finds goes to BUILD_DIR/corpus/<target>/, never into the source tree.
# Inputs in tests/fuzz/regressions/<target>/ are replayed before fuzzing.
#
# A crash (ASan, UBSan, a failed invariant, a leak or a timeout) fails the run and leaves
# BUILD_DIR/artifacts/<target>-crash-<sha1>. To reproduce and debug it:
#   BUILD_DIR/tests/fuzz/<target> BUILD_DIR/artifacts/<target>-crash-<sha1>  (runs it once)
#   gdb --args BUILD_DIR/tests/fuzz/<target> BUILD_DIR/artifacts/<target>-crash-<sha1>
# Keep it by copying it to tests/fuzz/regressions/<target>/<short-name>.
set -uo pipefail

src="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$src/../.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-20}}"
build="${2:-${FUZZ_BUILD:-build-fuzz}}"
targets="${FUZZ_TARGETS:-}"
cc="${FUZZ_CC:-clang}"

case "$seconds" in
'' | *[!0-9]* | 0)
	echo "run-fuzz.sh: SECONDS_PER_TARGET must be a positive integer, not '$seconds'" >&2
	exit 2
	;;
esac
case "$build" in
/*) ;;
*) build="$root/$build" ;;
esac

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-fuzz.sh: $cc not found." \
		"Install it with: apt-get install clang libclang-rt-14-dev" >&2
	exit 2
fi

if [ ! -f "$build/build.ninja" ]; then
	if ! CC="$cc" meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized >"$build.setup.log" 2>&1; then
		cat "$build.setup.log" >&2
		echo "run-fuzz.sh: cannot configure $build with -Dfuzzing=true (see above;" \
			"the libFuzzer runtime: apt-get install libclang-rt-14-dev)" >&2
		exit 2
	fi
	rm -f "$build.setup.log"
elif ! grep -q -- '-fsanitize=fuzzer-no-link' "$build/build.ninja"; then
	echo "run-fuzz.sh: $build is not a -Dfuzzing=true build; remove it or name another" >&2
	exit 2
fi

# The daemon's libraries are built without -Werror here (their warnings are the main build's
# business, and clang warns about a few things gcc does not); the targets use -Werror.
# Every executable defined in tests/fuzz/meson.build is a target.
all_targets="$(meson introspect --targets "$build" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["defined_in"].endswith("tests/fuzz/meson.build"):
        print(t["name"])
' | sort)"
[ -n "$targets" ] || targets="$(echo $all_targets)"
for t in $targets; do
	if ! grep -qx -- "$t" <<<"$all_targets"; then
		echo "run-fuzz.sh: no target $t in tests/fuzz/meson.build (targets: $(echo $all_targets))" >&2
		exit 2
	fi
done
# shellcheck disable=SC2086
if ! meson compile -C "$build" -j 2 $targets >"$build/compile.log" 2>&1; then
	tail -n 60 "$build/compile.log" >&2
	echo "run-fuzz.sh: cannot build the targets (log: $build/compile.log)" >&2
	exit 1
fi
mkdir -p "$build/artifacts"

failed=0
summary=()
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
# GLib's slice allocator would keep leaked GVariants reachable (and RSS growing unseen).
export G_SLICE=always-malloc

for t in $targets; do
	log="$build/$t.log"
	status="ok"
	regressions=("$src/regressions/$t"/*)
	if [ -e "${regressions[0]}" ]; then
		if ! "$build/tests/fuzz/$t" -timeout=5 "${regressions[@]}" \
			>"$build/$t.regressions.log" 2>&1; then
			status="FAILED on a regression input"
			tail -n 40 "$build/$t.regressions.log" >&2
		fi
	fi
	mkdir -p "$build/corpus/$t"
	dict="$src/at.dict"
	[ -f "$src/$t.dict" ] && dict="$src/$t.dict"
	if ! "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=2048 -timeout=5 -print_final_stats=1 \
		-dict="$dict" -artifact_prefix="$build/artifacts/$t-" \
		"$build/corpus/$t" "$src/corpus/$t" >"$log" 2>&1; then
		status="FAILED"
		echo "---- $t: last lines of $log" >&2
		tail -n 60 "$log" >&2
		echo "---- reproduce: $build/tests/fuzz/$t $build/artifacts/$t-<crash file> (see above)" >&2
	fi
	[ "$status" = ok ] || failed=1
	execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
	rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
	took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)"
	cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
	corp="$(find "$build/corpus/$t" "$src/corpus/$t" -type f | wc -l)"
	summary+=("$(printf '%-17s %s: %s execs in %s s (%s exec/s), coverage %s, corpus %s' \
		"$t" "$status" "${execs:-?}" "${took:-?}" "${rate:-?}" "${cov:-?}" "$corp")")
done

printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
	echo "run-fuzz.sh: FAILED (inputs in $build/artifacts/)"
	exit 1
fi
echo "run-fuzz.sh: all targets passed"
