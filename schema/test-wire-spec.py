#!/usr/bin/python3
"""Checks that schema/wire-protocol.md (for people) and schema/wire.def (for the generator) say
the same thing: channels, reserved ranges, every message table row (type, name, direction,
channel, fields with kinds and maximum lengths), the value lists given in field descriptions,
reject/bye and notice codes, capability bits, magic and version.

    test-wire-spec.py wire-protocol.md wire.def
    test-wire-spec.py agent-protocol.md agent.def
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wiregen  # noqa: E402  (the one parser of wire.def)

KINDS = 'u8|u16|u32|u64|i32|string|bytes|blob'
FIELD_RE = re.compile(r'^([a-z_][a-z0-9_]*) (' + KINDS + r')(?:\((\d+)\))?(.*)$', re.S)


class SpecError(Exception):
    pass


def cells(line):
    """The cells of a markdown table row; `\\|` is a pipe inside a cell."""
    parts = re.split(r'(?<!\\)\|', line.strip())
    if len(parts) < 3 or parts[0] or parts[-1]:
        raise SpecError(f'not a table row: {line!r}')
    return [p.strip().replace('\\|', '|') for p in parts[1:-1]]


def split_top(text):
    """Splits at commas outside parentheses."""
    out, depth, cur = [], 0, ''
    for ch in text:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    out.append(cur.strip())
    return out


def value_list(desc):
    """'(0 interactive, 1 view-only)' -> [(0, 'interactive'), (1, 'view-only')], else None."""
    m = re.match(r'^\s*\((.*)\)\s*$', desc, re.S)
    if not m:
        return None
    items = [i.strip() for i in m.group(1).split(',')]
    pairs = []
    for i in items:
        v = re.match(r'^(\d+) (.+)$', i)
        if not v:
            return None
        pairs.append((int(v.group(1)), re.sub(r'\s+', '-', v.group(2).strip())))
    return pairs


def parse_fields(text, where):
    """A message table's fields cell -> ([(name, kind, maxlen)], {field: value list})."""
    text = text.strip()
    if text.startswith('(none)'):
        return [], {}
    fields, values = [], {}
    for piece in split_top(text):
        m = FIELD_RE.match(piece)
        if not m:
            raise SpecError(f'{where}: cannot read field `{piece}\'')
        name, kind, maxlen, rest = m.group(1), m.group(2), m.group(3), m.group(4)
        if (maxlen is None) != (kind in wiregen.FIXED):
            raise SpecError(f'{where}: field `{piece}\': a maximum goes with string/bytes/blob only')
        fields.append((name, kind, int(maxlen) if maxlen else None))
        rest = rest.strip()
        if rest.startswith(':'):
            break  # a description follows the last field
        vl = value_list(rest) if rest else None
        if vl is not None:
            values[name] = vl
    return fields, values


def parse_spec(text):
    spec = {'channels': {}, 'messages': [], 'values': {}, 'codes': None, 'notices': None,
            'caps': [], 'reserved': [], 'magic': None, 'version': None}
    v = re.search(r'^# The tandem (?:wire|agent) protocol, version (\d+)$', text, re.M)
    spec['version'] = int(v.group(1)) if v else None
    v = re.search(r'magic `(0x[0-9a-fA-F]+)`', text)
    spec['magic'] = int(v.group(1), 16) if v else None

    def codes(label, required=True):
        m = re.search(label + r' codes: ((?:\d+ `[a-z-]+`[,.]\s*)+)', text)
        if not m and not required:
            return []
        if not m:
            raise SpecError(f'no "{label} codes:" list')
        return [(int(n), name) for n, name in re.findall(r'(\d+) `([a-z-]+)`', m.group(1))]

    spec['codes'] = codes('Reject and bye')
    spec['notices'] = codes('Notice', required=False)  # the agent protocol has none
    m = re.search(r'reserved for the reserved\s+channels \(([^)]*)\)', text)
    if not m:
        raise SpecError('no reserved type ranges')
    spec['reserved'] = [(int(t, 16), n) for t, n in re.findall(r'(0x[0-9a-f]+) ([a-z]+)', m.group(1))]

    section, channel = None, None
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f'wire-protocol.md:{lineno}'
        if line.startswith('## '):
            section, channel = line[3:].strip(), None
            continue
        h = re.match(r'^### ([a-z]+) \((\d+)\)$', line)
        if h:
            channel = (h.group(1), int(h.group(2)))
            continue
        if not line.startswith('|') or re.match(r'^\|[-| ]+\|$', line):
            continue
        c = cells(line)
        if c[0] in ('number', 'type', 'bit', 'offset'):
            continue  # header rows
        if section == 'Channels':
            m = re.match(r'^([a-z]+)( \(reserved\b.*\))?$', c[1])
            if not m:
                raise SpecError(f'{where}: cannot read channel `{c[1]}\'')
            spec['channels'][int(c[0])] = (m.group(1), bool(m.group(2)))
        elif section == 'Messages' and channel:
            if len(c) != 4:
                raise SpecError(f'{where}: a message row has 4 cells')
            fields, values = parse_fields(c[3], where)
            for k, vl in values.items():
                if k in spec['values'] and spec['values'][k] != vl:
                    raise SpecError(f'{where}: values of `{k}\' differ from an earlier table')
                spec['values'][k] = vl
            spec['messages'].append({'type': int(c[0], 16), 'name': c[1].strip('`'), 'dir': c[2],
                                     'channel': channel, 'fields': fields, 'where': where})
        elif section.startswith('Capabilities'):
            name = re.sub(r'\s*\(.*\)$', '', c[1]).strip()
            spec['caps'].append((int(c[0]), re.sub(r'\s+', '-', name)))
    return spec


def compare(spec, d):
    errors = []
    err = errors.append

    if spec['version'] != d.version:
        err(f'version: spec {spec["version"]}, wire.def {d.version}')
    if spec['magic'] != d.magic:
        err(f'magic: spec {spec["magic"]}, wire.def {d.magic}')
    if spec['channels'] != d.channels:
        err(f'channels: spec {spec["channels"]}, wire.def {d.channels}')
    def_reserved = sorted((first, ch) for first, _, ch in d.reserves)
    if sorted(spec['reserved']) != def_reserved:
        err(f'reserved ranges: spec {spec["reserved"]}, wire.def {def_reserved}')

    def_msgs = {m.type: m for m in d.messages}
    spec_types = set()
    for sm in spec['messages']:
        where = f'{sm["where"]}: {sm["name"]}'
        if sm['type'] in spec_types:
            err(f'{where}: type {sm["type"]:#x} listed twice')
        spec_types.add(sm['type'])
        dm = def_msgs.get(sm['type'])
        if not dm:
            err(f'{where}: type {sm["type"]:#x} is not in wire.def')
            continue
        if dm.name != sm['name']:
            err(f'{where}: wire.def calls {sm["type"]:#x} `{dm.name}\'')
        if dm.direction != sm['dir']:
            err(f'{where}: direction {sm["dir"]} in the spec, {dm.direction} in wire.def')
        if (dm.channel, d.channel_number(dm.channel)) != sm['channel']:
            err(f'{where}: listed under channel {sm["channel"]}, wire.def says {dm.channel}')
        def_fields = [(f.name, f.kind, f.maxlen) for f in dm.fields]
        if def_fields != sm['fields']:
            err(f'{where}: fields {sm["fields"]} in the spec, {def_fields} in wire.def')
    for t, dm in def_msgs.items():
        if t not in spec_types:
            err(f'wire.def: {dm.name} ({t:#x}) is not in the spec')

    def same_values(label, spec_list, group):
        if sorted(spec_list) != sorted(d.values.get(group, [])):
            err(f'{label}: spec {spec_list}, wire.def {d.values.get(group)}')

    same_values('reject/bye codes', spec['codes'], 'code')
    same_values('notice codes', spec['notices'], 'notice')
    for field, vl in spec['values'].items():
        same_values(f'values of {field}', vl, field)
    for group in d.values:
        if group not in ('code', 'notice') and group not in spec['values']:
            err(f'wire.def: value group `{group}\' has no list in the spec')
    if sorted(spec['caps']) != sorted(d.caps):
        err(f'capabilities: spec {spec["caps"]}, wire.def {d.caps}')
    return errors


# Edits of the spec that the comparison must catch: proof that it is not vacuous.
MUTATIONS = [
    ('| 0x11 | `tile` | s2c |', '| 0x11 | `tile` | c2s |'),
    ('| 0x11 | `tile` |', '| 0x19 | `tile` |'),
    ('| 0x12 | `frame-end` |', '| 0x12 | `frame-stop` |'),
    ('data blob(786432)', 'data blob(786431)'),
    ('ticket bytes(4096)', 'ticket string(4096)'),
    ('x i32, y i32, visible u8', 'x i32, y i32'),
    ('hot_x u16, hot_y u16', 'hot_y u16, hot_x u16'),
    ('| 0x33 | `mouse-relative` | c2s | dx i32, dy i32 |\n', ''),
    ('(0 interactive, 1 view-only)', '(0 interactive, 2 view-only)'),
    ('3 wheel up', '3 wheel-down'),
    ('12 `timeout`', '12 `time-out`'),
    ('2 `handover-refused`', '3 `handover-refused`'),
    ('| 4 | input channel |', '| 5 | input channel |'),
    ('| 3 | input |', '| 3 | inputs |'),
    ('| 0x73 | `media-packet` | s2c |', '| 0x73 | `media-packet` | c2s |'),
    ('codec u8 (0 opus, 1 vp8, 2 h264)', 'codec u8 (0 opus, 1 vp9, 2 h264)'),
    ('| 0x42 | `clipboard-data` | both |', '| 0x42 | `clipboard-data` | s2c |'),
    ('`0x4d444e54`', '`0x4d444e55`'),
    ('### cursor (2)', '### cursor (3)'),
]


AGENT_MUTATIONS = [
    ('| 0x22 | `clipboard-data` | both |', '| 0x22 | `clipboard-data` | h2g |'),
    ('chunk bytes(65536)', 'chunk bytes(65535)'),
    ('(0 reboot, 1 shutdown)', '(0 reboot, 2 shutdown)'),
    ('| 4 | windows |', '| 4 | window |'),
    ('`0x41444e54`', '`0x41444e55`'),
]


# Definitions the generator must refuse, each after a valid preamble.
BAD_DEFS = [
    'message 0x01 a control c2s 5\nfield x u32',                      # max is 4
    'message 0x01 a control c2s 8\nfield b blob 4\nfield x u32',      # blob not last
    'message 0x01 a control c2s 0\nmessage 0x01 b control c2s 0',     # duplicate type
    'message 0x01 a control c2s 0\nmessage 0x02 a control c2s 0',     # duplicate name
    'message 0x01 a media c2s 0',                                      # reserved channel
    'message 0x41 a control c2s 0',                                    # reserved range
    'message 0x01 a control c2s 4\nfield x f32',                      # unknown kind
    'message 0x01 a control c2s 4\nfield s string',                   # no maximum
    'message 0x01 a control c2s 4\nfield x u32 4',                    # maximum on a fixed field
    'message 0x01 a control c2s 1048577\nfield b blob 1048577',      # over 1 MiB
    'message 0x01 a control up 0',                                     # direction
    'message 0x01 a control c2s 8\nfield x u32\nfield x u32',        # duplicate field
    'field x u32',                                                     # outside a message
    'value role 0 a\nvalue role 0 b',                                 # duplicate value
    'cap 64 x',                                                        # bit out of range
]
BAD_PREAMBLE = 'protocol 1 0x1\nchannel 0 control\nchannel 7 media reserved\nreserve 0x40 0x4f media\n'


def self_test(md, d):
    failures = 0
    for bad in BAD_DEFS:
        try:
            wiregen.parse(BAD_PREAMBLE + bad)
            print(f'self-test: wire.def accepted {bad!r}', file=sys.stderr)
            failures += 1
        except wiregen.DefError:
            pass
    # The mutations are edits of the wire protocol's spec; the agent's is checked the same way.
    mutations = MUTATIONS if md.startswith('# The tandem wire protocol') else AGENT_MUTATIONS
    for old, new in mutations:
        if old not in md:
            print(f'self-test: `{old}\' no longer in the spec; update MUTATIONS', file=sys.stderr)
            failures += 1
            continue
        try:
            caught = bool(compare(parse_spec(md.replace(old, new, 1)), d))
        except SpecError:
            caught = True
        if not caught:
            print(f'self-test: changing `{old}\' to `{new}\' went unnoticed', file=sys.stderr)
            failures += 1
    return failures


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding='utf-8') as f:
        md = f.read()
    with open(argv[2], encoding='utf-8') as f:
        try:
            d = wiregen.parse(f.read())
        except wiregen.DefError as e:
            print(f'wire.def: {e}', file=sys.stderr)
            return 1
    try:
        spec = parse_spec(md)
    except SpecError as e:
        print(e, file=sys.stderr)
        return 1
    if not spec['messages']:
        print('no message tables found in the spec', file=sys.stderr)
        return 1
    errors = compare(spec, d)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    if self_test(md, d):
        return 1
    print(f'{len(spec["messages"])} messages, {len(spec["channels"])} channels, '
          f'{len(d.caps)} capabilities, {sum(len(v) for v in d.values.values())} values agree; '
          f'deliberate differences and {len(BAD_DEFS)} bad definitions caught')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
