#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzz.sh: builds the libFuzzer targets of the daemon's pure parsers with clang and runs
# each for a bounded time. Not part of the meson build: the main build uses gcc and must not
# need clang.
#
#   bash tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
#     SECONDS_PER_TARGET  default 20 (env FUZZ_SECONDS); CI uses 15
#     BUILD_DIR           default build-fuzz under the source root (env FUZZ_BUILD)
#     FUZZ_TARGETS="fuzz-validate ..."  runs only those targets
# Needs only the Debian 12 packages clang and libclang-rt-14-dev, plus libglib2.0-dev.
#
# Targets (each a plain C file compiled together with the daemon sources it tests):
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
#
# Each target uses tests/fuzz/<target>.dict when there is one, else at.dict.
#
# Corpus: tests/fuzz/corpus/<target>/ (regenerate with make-corpus.py from the seed note);
# what the fuzzer finds goes to BUILD_DIR/corpus/<target>/, never into the source tree.
# Inputs in tests/fuzz/regressions/<target>/ are replayed before fuzzing.
#
# A crash (ASan, UBSan, a failed invariant, a leak or a timeout) fails the run and leaves
# BUILD_DIR/artifacts/<target>-crash-<sha1>. To reproduce and debug it:
#   BUILD_DIR/<target> BUILD_DIR/artifacts/<target>-crash-<sha1>      (runs that input once)
#   gdb --args BUILD_DIR/<target> BUILD_DIR/artifacts/<target>-crash-<sha1>
# Keep it by copying it to tests/fuzz/regressions/<target>/<short-name>.
set -uo pipefail

src="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$src/../.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-20}}"
build="${2:-${FUZZ_BUILD:-build-fuzz}}"
targets="${FUZZ_TARGETS:-fuzz-line-reader fuzz-fota-urc fuzz-at-response fuzz-validate fuzz-cmdline fuzz-journal}"
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
if ! pkg-config --exists glib-2.0 gio-2.0; then
	echo "run-fuzz.sh: glib-2.0/gio-2.0 not found by pkg-config:" \
		"apt-get install pkg-config libglib2.0-dev" >&2
	exit 2
fi

mkdir -p "$build/obj" "$build/artifacts"
probe="$build/obj/probe.c"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe" -o "$build/obj/probe" \
	2>"$build/probe.log"; then
	cat "$build/probe.log" >&2
	echo "run-fuzz.sh: $cc cannot link libFuzzer/ASan/UBSan." \
		"Install the runtime with: apt-get install libclang-rt-14-dev" >&2
	exit 2
fi

# -fno-sanitize-recover makes UBSan findings crashes instead of log lines.
san=("-fsanitize=address,undefined" -fno-sanitize-recover=all -fno-omit-frame-pointer)
cflags=(-std=gnu11 -g -O1 "${san[@]}" -I"$root/daemon/at" -I"$root/daemon/common"
	-I"$root/daemon/fota")
read -r -a glib_cflags <<<"$(pkg-config --cflags glib-2.0 gio-2.0)"
read -r -a glib_libs <<<"$(pkg-config --libs glib-2.0 gio-2.0)"

# The daemon sources: instrumented for coverage, warnings shown but not fatal (their warnings
# are the meson build's business); the targets themselves must be warning-free.
declare -A domain=([at]=dfota-at [common]=dfota-common [fota]=dfota-fota)
daemon_srcs=(at/dfota-line-reader.c at/at-parse.c common/dfota-validate.c common/dfota-cmdline.c
	common/dfota-error.c common/dfota-redact.c fota/dfota-journal.c fota/dfota-job.c)
objs=()
for s in "${daemon_srcs[@]}"; do
	o="$build/obj/$(basename "${s%.c}").o"
	if ! "$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link "${glib_cflags[@]}" \
		-DG_LOG_DOMAIN="\"${domain[${s%%/*}]}\"" -c "$root/daemon/$s" -o "$o"; then
		echo "run-fuzz.sh: cannot compile daemon/$s" >&2
		exit 1
	fi
	objs+=("$o")
done

failed=0
summary=()
for t in $targets; do
	if [ ! -f "$src/$t.c" ]; then
		echo "run-fuzz.sh: no target $t" >&2
		exit 2
	fi
	if ! "$cc" "${cflags[@]}" -Wall -Wextra -Werror -fsanitize=fuzzer "${glib_cflags[@]}" \
		-DG_LOG_DOMAIN="\"$t\"" "$src/$t.c" "${objs[@]}" "${glib_libs[@]}" \
		-o "$build/$t"; then
		echo "run-fuzz.sh: cannot build $t" >&2
		exit 1
	fi
done

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
		if ! "$build/$t" -timeout=5 "${regressions[@]}" \
			>"$build/$t.regressions.log" 2>&1; then
			status="FAILED on a regression input"
			tail -n 40 "$build/$t.regressions.log" >&2
		fi
	fi
	mkdir -p "$build/corpus/$t"
	dict="$src/at.dict"
	[ -f "$src/$t.dict" ] && dict="$src/$t.dict"
	if ! "$build/$t" -max_total_time="$seconds" -max_len=2048 -timeout=5 -print_final_stats=1 \
		-dict="$dict" -artifact_prefix="$build/artifacts/$t-" \
		"$build/corpus/$t" "$src/corpus/$t" >"$log" 2>&1; then
		status="FAILED"
		echo "---- $t: last lines of $log" >&2
		tail -n 60 "$log" >&2
		echo "---- reproduce: $build/$t $build/artifacts/$t-<crash file> (see above)" >&2
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
