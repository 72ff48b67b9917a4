#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Parses dfotad's metrics file with prometheus_client's own parser and checks samples.

    check-metrics.py FILE CHECK...

A CHECK is NAME{label=value,...}OP VALUE, OP one of == > >=: at least one sample of NAME has
those labels (others are not compared) and every such sample satisfies the comparison.
NAME{...}==absent: no sample of NAME has those labels. Also checks the binding metric types.
Exit 0 when every check holds, 1 with the file's text otherwise."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

CHECK = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\}(?P<op>==|>=|>)(?P<value>.+)$')


def main():
    path = sys.argv[1]
    with open(path, encoding='utf-8') as f:
        text = f.read()
    samples = []
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples.append((s.name, s.labels, s.value))
    failed = False
    for check in sys.argv[2:]:
        m = CHECK.match(check)
        if not m:
            print(f'bad check {check!r}')
            return 2
        want = dict(kv.split('=', 1) for kv in m['labels'].split(',') if kv)
        found = [v for (n, labels, v) in samples if n == m['name'] and
                 all(labels.get(k) == val for k, val in want.items())]
        if m['value'] == 'absent':
            ok = not found
        elif not found:
            ok = False
        else:
            ref = float(m['value'])
            op = m['op']
            ok = all(v == ref if op == '==' else v > ref if op == '>' else v >= ref
                     for v in found)
        if not ok:
            print(f'check failed: {check} (found {found})')
            failed = True
    # The binding metric types.
    expect_types = {'dfotad_modem_info': 'gauge', 'dfotad_modem_ready': 'gauge',
                    'dfotad_job_running': 'gauge', 'dfotad_jobs': 'counter',
                    'dfotad_at_commands': 'counter'}
    for name, typ in expect_types.items():
        if types.get(name) != typ:
            print(f'{name}: type {types.get(name)!r}, expected {typ!r}')
            failed = True
    if failed:
        print('--- file ---')
        print(text)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
