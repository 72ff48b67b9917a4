#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what dfotad needs to build, test and run its demo on Debian 12, then configures
# and builds it: `bash tests/setup.sh [BUILD_DIR [meson options...]]` (default ./build).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	gcc meson ninja-build pkg-config
	libglib2.0-dev libglib2.0-bin libsystemd-dev libserialport-dev libcurl4-openssl-dev
	libjson-glib-dev
	dbus-daemon python3 curl openssl ca-certificates
	systemd libxml2-utils groff-base
	clang libclang-rt-14-dev clang-format valgrind
	python3-prometheus-client python3-gi
	cockpit-ws cockpit-bridge chromium chromium-driver python3-selenium
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build="${1:-build}"
shift || true
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$@" >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built into $build"
