#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that every tracked source file names its licence in an SPDX line, and adds it.

    python3 tests/check-spdx.py          lists the files without the line; exit status 1 if any
    python3 tests/check-spdx.py --fix    adds the line to them (run it after merging branches)

The line sits where each format allows a comment first: the first line of C, CSS and roff
files; after the shebang of scripts; after the XML declaration or the HTML doctype. A file of a
kind the RULES below do not know fails the check until it gets a rule or an EXEMPT entry, so a
new kind of file is a decision, not an oversight.
"""

import fnmatch
import subprocess
import sys
from pathlib import Path

LICENCE = "LGPL-2.1-or-later"
TAG = "SPDX-License-Identifier: " + LICENCE

# Files that are not source, or whose format has no comments or its own licence field.
EXEMPT = [
    "COPYING",  # the licence text itself
    "*.md",  # prose; the README names the licence
    "cockpit/manifest.json",  # JSON has no comments
    "debian/changelog",  # fixed format, no comments
    "debian/control",  # deb822 read by many tools; debian/copyright states the licence
    "debian/copyright",  # states the licence in its own machine-readable format
    "debian/source/format",  # one fixed line
    "debian/README.*",  # prose
    "tests/fuzz/corpus/*",  # fuzzer inputs: data, byte for byte
    "tests/fuzz/regressions/*",
]

# (glob patterns, comment style). The first rule whose pattern matches decides.
RULES = [
    (["*.c", "*.h"], "c"),
    (["*.css", "*.js"], "c-block"),
    (["*.polkit.rules"], "c"),  # polkit rules are JavaScript
    (["*.xml", "*.dtd", "dbus/*.conf"], "xml"),
    (["*.html"], "html"),
    (["docs/*.[0-9]"], "roff"),
    (
        [
            "*meson.build",
            "meson_options.txt",
            "*.sh",
            "*.py",
            ".ci/run",
            "debian/rules",
            "debian/*.postinst",
            "debian/*.install",
            "debian/*.docs",
            "debian/*.tmpfiles",
            "debian/conf/*",
            "*.dict",
            "*.supp",
            "*.rules",
            "*.service",
            "*.service.in",
            "*.sysusers",
            "*.bash-completion",
            "*.conf.example",
            "*.clang-format",
            "*.clang-tidy",
            "*.gitignore",
        ],
        "hash",
    ),
]

LINES = {
    "c": "// " + TAG,
    "c-block": "/* " + TAG + " */",
    "xml": "<!-- " + TAG + " -->",
    "html": "<!-- " + TAG + " -->",
    "roff": '.\\" ' + TAG,
    "hash": "# " + TAG,
}

# Acceptable spellings of the line besides the one --fix writes.
ALSO = {
    "c": ["/* " + TAG],
    "c-block": ["/* " + TAG],
    "xml": ["<!-- " + TAG],
    "html": ["<!-- " + TAG],
    "roff": [],
    "hash": [],
}


def style_of(path):
    if any(fnmatch.fnmatch(path, p) for p in EXEMPT):
        return None
    for patterns, style in RULES:
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return style
    return "unknown"


def where(style, lines):
    """Index of the line that must carry the tag: after what the format puts first."""
    if not lines:
        return 0
    first = lines[0]
    if style == "hash" and first.startswith("#!"):
        return 1
    if style == "xml" and first.startswith("<?xml"):
        return 1
    if style == "html" and first.lower().startswith("<!doctype"):
        return 1
    if style == "roff" and first.startswith("'\\\""):  # preprocessor line, e.g. '\" t
        return 1
    return 0


def has_tag(style, lines):
    i = where(style, lines)
    if i >= len(lines):
        return False
    line = lines[i].rstrip("\n")
    return line == LINES[style] or any(line.startswith(a) for a in ALSO[style])


def main(argv):
    fix = "--fix" in argv[1:]
    if any(a not in ("--fix",) for a in argv[1:]):
        print("usage: check-spdx.py [--fix]", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parent.parent
    files = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], check=True, capture_output=True
    ).stdout.decode().split("\0")
    missing = []
    unknown = []
    for path in filter(None, files):
        style = style_of(path)
        if style is None:
            continue
        if style == "unknown":
            unknown.append(path)
            continue
        full = root / path
        if not full.is_file():  # deleted in the work tree but still in the index
            continue
        text = full.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        if has_tag(style, lines):
            continue
        missing.append(path)
        if fix:
            i = where(style, lines)
            if i > len(lines) - 1 and lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.insert(i, LINES[style] + "\n")
            full.write_text("".join(lines), encoding="utf-8")
    for path in unknown:
        print(f"{path}: no SPDX rule for this kind of file (add one to RULES or EXEMPT in "
              f"tests/check-spdx.py)")
    for path in missing:
        print(f"{path}: {'added' if fix else 'missing'} '{TAG}'")
    if unknown or (missing and not fix):
        if missing and not fix:
            print(f"{len(missing)} file(s) without the licence line: "
                  f"run python3 tests/check-spdx.py --fix")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
