#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the dependencies, builds dfotad with warnings as errors under AddressSanitizer and
# UBSan, runs the whole test suite and ends with "N passed, N failed" (non-zero exit when
# anything failed). `bash tests/run-tests.sh [meson test args...]`
set -uo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build-asan}"

bash tests/setup.sh "$build" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
	|| { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"

meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
status=$?

python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line).get("result", "")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
except FileNotFoundError:
    failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
