#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rebuilds tests/fuzz/corpus/ from the seed application note.

    python3 tests/fuzz/make-corpus.py SEED.txt [OUT_DIR]

Every +QIND line in every spelling the seed uses, the +COPS/+CGDCONT/+QFLST answers, the
AT commands, the URLs and file names are taken from the seed verbatim (trailing "//"
comments cut off); a few answers the seed only describes (ATI, +CESQ, +CGPADDR, +CME ERROR,
...) are added by hand below. The line-reader corpus holds the seed's transcripts as the
module would send them (CRLF, with echo, with NULs and noise), each prefixed by the target's
2-byte header (line bound, fragmentation seed). File names are the SHA-1 of the content, as
libFuzzer names its own, so rerunning is idempotent. Only the standard library is used.
"""
import hashlib
import os
import re
import sys

TARGETS = ("fuzz-line-reader", "fuzz-fota-urc", "fuzz-at-response", "fuzz-validate",
           "fuzz-cmdline", "fuzz-journal")

# Answers the seed names but does not print in full (header comments of at-parse.h, 3GPP).
EXTRA_RESPONSES = [
    "OK", "ERROR", "NO CARRIER", "CONNECT", "CONNECT 115200", "RDY",
    "REBOOT_CAUSE_APPLICATION_AT", "+CME ERROR: 6504", "+CME ERROR: 6508",
    "+CME ERROR: SIM not inserted", "+CMS ERROR: 500",
    "Quectel_Ltd\nQuectel_BC65\nRevision: BC65JAR01A01",
    "Quectel_Ltd\nQuectel_BC92\nRevision: BC92JBR01A02\nSubEdition: V02",
    "+CESQ: 36,99,255,255,12,53", "+CESQ: 99,99,255,255,255,255",
    "+CGPADDR: 1,\"100.68.194.234\"", "+CGPADDR: 1,100.68.194.234", "+CGPADDR: 1",
    "+CGACT: 1,1", "+CGSN: 866971030000000", "866971030000000",
    "+QFLDS: 93368,262144", "+QFUPL: 20135,3f2a", "+QFDWL: 93368,a1b2",
    "+COPS: 0", "+COPS: 1,2,\"46011\"",
    # what field firmware answers beyond the seed
    "+QFLST: \"UFS:fota.pack\",20135", "+QFLST: \"security/\",0", "+QFUPL: 20135,0A5C",
    "+QFDWL: 3001,b", "Quectel_Ltd\nQuectel_BC65\nRevision: BC65JAR01A02_BETA0203",
    "Quectel_Ltd", "APP RDY", "POWERED DOWN",
]
EXTRA_COMMANDS = [
    "AT", "ATI", "ATE0", "AT+CMEE=1", "AT+CESQ", "AT+CGPADDR", "AT+CGSN=1", "AT+QFLDS",
    "AT+QFOTADL=?", "AT+QFOTADL=1", "at+qflst=\"*\"", "AT+QSCLK=0", "AT+QFUPL=\"fota.pack\",20135",
    "AT+CGDCONT=1,\"IP\";+QSCLK=1", "AT$QCPWRUP", "AT^SYSINFO",
]
# Command lines for the splitter: chains, concatenations, strings, prompts, S-registers.
CMDLINE_EXTRA = [
    "ATI&F", "ATIE1", "ATI+QSCLK=1", "AT+CGMR\";+QSCLK=1", "AT+CGMR;+CGSN=1", "AT+CGMR;+CEREG?",
    "AT + QSCLK = 1", "ATS3=10", "ATS0?", "ATD123;", "ATO", "ATA", "AT+CMGS=\"123\"",
    "AT+QISEND=0", "AT+QISEND=0,5,hello", "AT+X=\"a;b\";+CSQ", "AT\\Q3", "AT&D2",
    "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80,0,2", "AT+QPOWD=1", "AT+QURCCFG?",
]
EXTRA_VALUES = [
    "http://[::1]:8080/fota.pack", "https://example.com/signed?x=1", "http://h:0/",
    "http://h:65536/", "http://user@h/", "fota.pack", "mcu_update.bin", "a/b", "x" * 58,
]


# Journal records and progress lines as the daemon writes them (g_variant_print(v, TRUE)), and
# the classes of bad ones (dfota-journal.h): the seed says nothing about the state directory.
JOB = ("'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'http://h/p.pack'>, "
       "'started': <uint64 1700000000000000>, 'from-revision': <'BC65JAR01A01'>, "
       "'step': <uint32 5>, 'phase': <'updating'>, 'percent': <uint32 40>, "
       "'from-sub-edition': <''>, 'filename': <''>, 'end-seen': <false>, 'power-cut': <false>}>")
LAST = ("'last-result': <{'id': <uint64 6>, 'kind': <'fetch-mcu-file'>, 'source': <'http://h/m'>, "
        "'started': <uint64 1>, 'from-revision': <'BC65JAR01A01'>, 'success': <false>, "
        "'code': <6504>, 'error': <'org.dfotad1.Error.PackageNotFound'>, 'message': <'gone'>, "
        "'to-revision': <''>, 'finished': <uint64 2>, 'file': <'m.bin'>, 'size': <uint64 5>}>")
JOURNALS = [
    "{'next-id': <uint64 65>}",
    "{'next-id': <uint64 65>, %s}" % JOB,
    "{'next-id': <uint64 65>, %s}" % LAST,
    "{'next-id': <uint64 65>, %s, %s}" % (JOB, LAST),
    "{'next-id': <uint64 65>, %s" % JOB[:90],
    "{'next-id': <'65'>}",
    "{'next-id': <uint64 18446744073709551615>}",
    "{'next-id': <uint64 65>, 'job': <'x'>}",
    "{'next-id': <uint64 65>, %s}" % JOB.replace("'upgrade'", "'erase-all'"),
    "{'next-id': <uint64 65>, %s}" % JOB.replace("<''>", "<@ms nothing>", 1),
    "{'next-id': <uint64 65>, %s}" % JOB.replace("'BC65JAR01A01'", "'BC65\\xff'"),
]
PROGRESS = ["%020d %-24s %03d\n" % (7, "updating", 40), "%020d %-24s %03d\n" % (1, "downloading", 100),
            "%020d %-24s" % (7, "updating")]


def clean(line):
    # "//" starts a comment only after blanks or at the start, not inside "http://".
    line = re.sub(r"(^|\s+)//.*$", "", line)
    # Table cells: markdown bold, HTML paragraphs, a tab before the next column.
    line = re.split(r"\*\*|</?p>|\t", line)[0]
    return line.strip().strip("`").strip()


def write(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def transcripts(text):
    """The seed's examples (chapter 4 blocks and the 3.x notes) as runs of module lines."""
    blocks, cur = [], []
    for raw in text.splitlines():
        line = clean(raw)
        if re.match(r"^(AT|\+[A-Z]+:|OK$|ERROR$|\.\.\.$)", line):
            cur.append(line)
        elif cur and line == "":
            continue
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return [b for b in blocks if len(b) >= 3]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__),
                                                             "corpus")
    lines = {clean(l) for l in text.splitlines()}
    # The 3.x tables put a whole response in one cell: split it at each "+QIND:".
    qind = set()
    for raw in text.splitlines():
        for piece in raw.split("+QIND:")[1:]:
            piece = clean("+QIND:" + piece)
            qind.add(re.split(r" If there| Or ", piece)[0].rstrip(" ."))
    qind = sorted(qind)
    responses = sorted(l for l in lines if re.match(r"^\+(COPS|CGDCONT|QFLST):", l))
    commands = sorted({l for l in lines if re.match(r"^AT[+A-Z=?]", l) and " " not in l})
    urls = sorted(set(re.findall(r"http://[^\s\"]+", text)))
    files = sorted(set(re.findall(r"\"([a-z_]+\.(?:pack|bin))\"", text)))

    for l in qind:
        write(out, "fuzz-fota-urc", l.encode())
        write(out, "fuzz-at-response", l.encode())
    for l in responses + EXTRA_RESPONSES:
        write(out, "fuzz-at-response", l.encode())
    for l in commands + EXTRA_COMMANDS:
        write(out, "fuzz-at-response", l.encode())
        write(out, "fuzz-validate", l.encode())
        write(out, "fuzz-cmdline", l.encode())
    for l in CMDLINE_EXTRA:
        write(out, "fuzz-cmdline", l.encode())
    for v in urls + files + EXTRA_VALUES:
        write(out, "fuzz-validate", v.encode())

    for j in JOURNALS + PROGRESS:
        write(out, "fuzz-journal", j.encode())
    # A byte that is not UTF-8 inside a revision string: what crashed journal_load().
    write(out, "fuzz-journal", ("{'next-id': <uint64 65>, %s}" % JOB).encode().replace(
        b"JAR01A01", b"JAR01A\xe1", 1))

    for i, block in enumerate(transcripts(text)):
        body = "".join(
            ("%s\r\r\n" % l) if l.startswith("AT") else ("\r\n%s\r\n" % l) for l in block)
        raw = body.encode()
        # Default bound, all at once-ish; a 40-byte bound (hits the long +QIND lines); echo
        # with NULs, noise bytes and lone CRs/LFs as a noisy UART delivers them.
        write(out, "fuzz-line-reader", bytes([0, i]) + raw)
        write(out, "fuzz-line-reader", bytes([16 + 39, 7 * i + 1]) + raw)
        noisy = raw.replace(b"\r\n", b"\n\x00").replace(b"OK", b"O\xffK\x01")
        write(out, "fuzz-line-reader", bytes([3, 13 * i + 5]) + noisy)
    print("corpus written to %s: %d +QIND lines, %d responses, %d commands, %d URLs" %
          (out, len(qind), len(responses), len(commands), len(urls)))


if __name__ == "__main__":
    main()
