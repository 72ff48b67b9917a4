#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clang-tidy.sh [BUILD_DIR]: clang-tidy with the checks of .clang-tidy (and tests/.clang-tidy)
# over every C file of daemon/, client/, tests/ and bench/, from the compile_commands.json of
# a clang build of its own (default build-tidy; built first, for the gdbus-codegen headers).
# Fails on any warning (.clang-tidy makes them errors). Needs clang and clang-tidy on Debian
# 12, installed here when missing and run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build="${1:-build-tidy}"
if ! command -v run-clang-tidy >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "clang-tidy.sh: clang-tidy not found: apt-get install clang clang-tidy" >&2
		exit 2
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		clang clang-tidy >/dev/null
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dbuildtype=debug >/dev/null
fi
ninja -C "$build" -j 2 >/dev/null
# -quiet drops the "N warnings generated" lines of system headers; a finding still prints.
run-clang-tidy -p "$build" -j 2 -quiet "^$root/(daemon|client|tests|bench)/"
