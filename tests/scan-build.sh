#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# scan-build.sh [BUILD_DIR]: clang's static analyzer over the whole build (daemon, client,
# simulator, tests, bench) in a build directory of its own (default build-scan). Fails when
# the analyzer reports anything; the HTML reports are left in BUILD_DIR/scan-report/.
#   scan-view BUILD_DIR/scan-report/<date>        (or open its index.html)
# Needs clang-tools (scan-build) on Debian 12, installed here when missing and run as root.
#
# Two checkers are off, for one reason: clang before 18 leaves the calls that
# __attribute__((cleanup)) makes (g_autoptr, g_autofree, g_auto) out of its control-flow
# graph, so every such variable looks dead after its last use. deadcode.DeadStores then
# reports each g_autoptr holding a reply or a helper process until the end of its scope as a
# useless store (some 50 reports in the tests), and unix.Malloc each g_autofree/g_autoptr
# buffer from g_malloc/g_new as a leak (6). unix.Malloc's one other report, a use after free
# in DfotaFetcher's shutdown loop, is a blind spot of its own: it does not know that a
# transfer's fetcher is the one whose list is walked, so it misses the list's update. What unix.Malloc would find (leaks, use after free, double free) the suite
# catches under AddressSanitizer and LeakSanitizer, and valgrind on the daemon. Turn them back
# on when CI's clang is 18 or later.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${1:-build-scan}"
if ! command -v scan-build >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "scan-build.sh: scan-build not found: apt-get install clang-tools" >&2
		exit 2
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		clang clang-tools >/dev/null
fi

analyzer=(--status-bugs -disable-checker deadcode.DeadStores -disable-checker unix.Malloc)
if [ ! -f "$build/build.ninja" ]; then
	# Configured under scan-build so that the compiler is its analyzing wrapper. No -Werror:
	# the analyzer's verdict is what this step is about (the gcc build enforces warnings).
	scan-build meson setup "$build" -Dbuildtype=debug >/dev/null
fi
# Every object is rebuilt, or the analyzer would only see what changed since the last run.
ninja -C "$build" -t clean >/dev/null
rm -rf "$build/scan-report"
scan-build "${analyzer[@]}" -o "$build/scan-report" ninja -C "$build" -j 2
