#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Debian packages: installs the build dependencies from debian/control (apt-get build-dep ./),
# builds the binary packages in a copy of the tree (dpkg-buildpackage writes ../*.deb), runs
# lintian (no error, no warning: every accepted warning has an override with its reason),
# unpacks the packages with dpkg -x and compares their files with what "meson install" lays
# down from the same build directory: every installed file in exactly one package, and nothing
# else but what debhelper adds by design (changelog, copyright, docs, tmpfiles, the conffile).
#
#   bash tests/deb/test-deb.sh          (as root, or with sudo for apt-get)
#
# DEB_BUILD_OPTIONS=nocheck: dh_auto_test would rerun tests that CI runs anyway (under ASan).
# DFOTAD_DEB_KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
src_root=$PWD

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
need=()
for p in dpkg-dev lintian git; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "deb: apt-get build-dep ./"
$sudo apt-get build-dep -y -qq ./ >/dev/null

tmp=$(mktemp -d /tmp/dfotad-deb-XXXXXX)
cleanup() {
	if [ -n "${DFOTAD_DEB_KEEP:-}" ]; then
		echo "deb: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# A copy of the tree as a fresh clone would have it (tracked and new files, no build dirs).
mkdir "$tmp/src"
git -C "$src_root" ls-files -z --cached --others --exclude-standard |
	grep -zv -E '^(build[^/]*|obj-[^/]*)/' |
	xargs -0 tar -cf - --no-recursion -C "$src_root" |
	tar -xf - -C "$tmp/src"

echo "deb: dpkg-buildpackage -us -uc -b"
if ! (cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
	tail -n 60 "$tmp/build.log"
	echo "deb: dpkg-buildpackage failed"
	exit 1
fi
changes=$(ls "$tmp"/*.changes)
ls "$tmp"/*.deb | sed 's|.*/|deb: built |'

fail=0
echo "deb: lintian"
if ! lintian --fail-on error,warning \
	"$changes" >"$tmp/lintian.log" 2>&1; then
	cat "$tmp/lintian.log"
	echo "deb: lintian reported errors or warnings"
	fail=1
else
	grep -E '^[EW]:' "$tmp/lintian.log" || true
	echo "deb: lintian: no errors, no warnings"
fi

# What meson installs from the very build directory the packages were made from.
builddir=$(ls -d "$tmp"/src/obj-*)
DESTDIR="$tmp/meson-root" meson install -C "$builddir" --no-rebuild --quiet >/dev/null
(cd "$tmp/meson-root" && find . ! -type d | sed 's|^\./|/|' | sort) >"$tmp/meson.list"

: >"$tmp/pkgs.list"
for deb in "$tmp"/*.deb; do
	pkg=$(dpkg-deb -f "$deb" Package)
	case "$pkg" in *-dbgsym) continue ;; esac
	dpkg -x "$deb" "$tmp/x-$pkg"
	(cd "$tmp/x-$pkg" && find . ! -type d | sed "s|^\./|/|; s|\$| $pkg|") >>"$tmp/pkgs.list"
done
sort -o "$tmp/pkgs.list" "$tmp/pkgs.list"

# Files debhelper adds by design, per package: docs, the changelog and copyright, lintian
# overrides, the tmpfiles.d entry and the conffile from debian/.
extra_re='^/usr/share/doc/[^/]+/(changelog(\.Debian)?\.gz|copyright|README\.(md|Debian|source)(\.gz)?)$'
extra_re+='|^/usr/share/lintian/overrides/[^/]+$|^/usr/lib/tmpfiles\.d/dfotad\.conf$'
extra_re+='|^/etc/dfotad/dfotad\.conf$'

python3 - "$tmp/meson.list" "$tmp/pkgs.list" "$extra_re" <<'PY' || fail=1
import re, sys
meson = [l.strip() for l in open(sys.argv[1]) if l.strip()]
owners = {}
for line in open(sys.argv[2]):
    path, pkg = line.rsplit(' ', 1)
    owners.setdefault(path, []).append(pkg.strip())
extra = re.compile(sys.argv[3])
bad = 0
seen = set()
for path in meson:
    # dh_compress compresses man pages (and large docs).
    cands = [p for p in (path, path + '.gz') if p in owners]
    if not cands:
        print(f'deb: {path}: installed by meson, in no package'); bad += 1; continue
    pkgs = [pkg for c in cands for pkg in owners[c]]
    if len(pkgs) != 1:
        print(f'deb: {path}: in {len(pkgs)} packages ({", ".join(pkgs)})'); bad += 1
    seen.update(cands)
for path, pkgs in sorted(owners.items()):
    if path not in seen and not extra.search(path):
        print(f'deb: {path} ({", ".join(pkgs)}): not installed by meson, not a debhelper file')
        bad += 1
print(f'deb: {len(meson)} files from meson install, {len(owners)} in the packages, {bad} problems')
sys.exit(1 if bad else 0)
PY

# The conffile, the page and the maintainer scripts.
if ! dpkg-deb -I "$tmp"/dfotad_*.deb conffiles | grep -qx /etc/dfotad/dfotad.conf; then
	echo "deb: /etc/dfotad/dfotad.conf is not a conffile"
	fail=1
fi
if ! grep -qx 'metrics-file=/var/lib/prometheus/node-exporter/dfotad.prom' \
	"$tmp/x-dfotad/etc/dfotad/dfotad.conf"; then
	echo "deb: the conffile does not set metrics-file"
	fail=1
fi
if [ ! -f "$tmp/x-cockpit-dfotad/usr/share/cockpit/dfotad/manifest.json" ]; then
	echo "deb: cockpit-dfotad has no manifest.json"
	fail=1
fi
if [ ! -x "$tmp/x-dfota-hawkbit/usr/sbin/dfota-hawkbit" ]; then
	echo "deb: dfota-hawkbit has no usr/sbin/dfota-hawkbit"
	fail=1
fi
dpkg-deb -e "$tmp"/dfota-hawkbit_*.deb "$tmp/control-dfota-hawkbit"
if ! grep -q -- 'systemd-sysusers' "$tmp/control-dfota-hawkbit/postinst"; then
	echo "deb: the dfota-hawkbit postinst does not create its user"
	fail=1
fi
dpkg-deb -e "$tmp"/dfotad_*.deb "$tmp/control-dfotad"
for want in 'systemd-sysusers' 'systemd-tmpfiles' 'deb-systemd-helper' 'try-restart'; do
	if ! grep -q -- "$want" "$tmp/control-dfotad/postinst"; then
		echo "deb: postinst lacks $want"
		fail=1
	fi
done
# --no-enable --no-start --no-stop-on-upgrade: no script starts, restarts or stops the unit
# (only the postinst's try-restart when idle), and it is enabled again only where the
# administrator had enabled it (deb-systemd-helper was-enabled).
if grep -qE 'deb-systemd-invoke (start|restart|stop)' \
	"$tmp/control-dfotad/postinst" "$tmp/control-dfotad/prerm" 2>/dev/null; then
	echo "deb: a maintainer script starts or stops dfotad on install or upgrade"
	fail=1
fi
if grep -q 'deb-systemd-helper enable' "$tmp/control-dfotad/postinst" &&
	! grep -q 'was-enabled' "$tmp/control-dfotad/postinst"; then
	echo "deb: the postinst enables dfotad on a fresh install"
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	echo "deb: FAILED"
	exit 1
fi
echo "deb: ok"
