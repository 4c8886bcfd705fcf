#!/usr/bin/env python3
"""Generates a protocol's C code from its definition: the wire protocol's from schema/wire.def,
the agent protocol's (same frames, same field kinds) from schema/agent.def.

    wiregen.py [--prefix agent] FILE.def FILE-gen.h FILE-gen.c

With a prefix other than `wire' every generated name takes it (AgentMessage, agent_decode(),
AGENT_TYPE_HELLO); the frame helpers (wire_frame_begin(), wire_get_string(), ...) and the type
descriptions (WireTypeInfo, WireFieldInfo, WireKind) stay shared with the wire protocol.

The parser is also imported by test-wire-spec.py, so the definition is read one way only.
Standard library only: meson runs this at build time.
"""

import re
import sys

FIXED = {'u8': 1, 'u16': 2, 'u32': 4, 'u64': 8, 'i32': 4}
CTYPE = {'u8': 'uint8_t', 'u16': 'uint16_t', 'u32': 'uint32_t', 'u64': 'uint64_t', 'i32': 'int32_t'}
VARIABLE = ('string', 'bytes', 'blob')
# The agent protocol says h2g (hostd to guest) and g2h; they are the same bits as c2s and s2c.
DIRS = {'c2s': 'WIRE_DIR_C2S', 's2c': 'WIRE_DIR_S2C', 'both': 'WIRE_DIR_BOTH',
        'h2g': 'WIRE_DIR_C2S', 'g2h': 'WIRE_DIR_S2C'}
# The spec's limit for frames of types a receiver does not know; no known type may exceed it.
UNKNOWN_MAX = 1 << 20


class DefError(Exception):
    pass


class Field:
    def __init__(self, name, kind, maxlen):
        self.name, self.kind, self.maxlen = name, kind, maxlen

    @property
    def fixed(self):
        return self.kind in FIXED

    def max_wire_size(self):
        if self.fixed:
            return FIXED[self.kind]
        return (4 if self.kind != 'blob' else 0) + self.maxlen


class Message:
    def __init__(self, type_, name, channel, direction, max_size, line):
        self.type, self.name, self.channel = type_, name, channel
        self.direction, self.max_size, self.line = direction, max_size, line
        self.fields = []

    @property
    def cname(self):
        return self.name.replace('-', '_')

    @property
    def struct(self):
        return 'Wire' + ''.join(p.capitalize() for p in self.name.split('-'))

    @property
    def macro(self):
        return self.cname.upper()

    def computed_max(self):
        return sum(f.max_wire_size() for f in self.fields)

    def min_size(self):
        return sum(FIXED[f.kind] if f.fixed else (4 if f.kind != 'blob' else 0) for f in self.fields)

    def is_fixed(self):
        return all(f.fixed for f in self.fields)


class Definition:
    def __init__(self):
        self.version = None
        self.magic = None
        self.channels = {}  # number -> (name, reserved)
        self.reserves = []  # (first, last, channel name)
        self.messages = []
        self.values = {}    # group -> [(number, name)]
        self.caps = []      # (bit, name)

    def channel_number(self, name):
        for n, (cname, _) in self.channels.items():
            if cname == name:
                return n
        return None


def _int(tok, what, lineno):
    try:
        return int(tok, 0)
    except ValueError:
        raise DefError(f'line {lineno}: invalid {what} `{tok}\'') from None


NAME_RE = re.compile(r'^[a-z][a-z0-9]*(-[a-z0-9]+)*$')
FIELD_RE = re.compile(r'^[a-z][a-z0-9_]*$')
VALUE_RE = re.compile(r'^[a-z0-9][a-z0-9:]*(-[a-z0-9:]+)*$')


def parse(text):
    d = Definition()
    cur = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split('#', 1)[0].split()
        if not line:
            continue
        kw, args = line[0], line[1:]

        def need(n, lo=None):
            if len(args) != n and (lo is None or not lo <= len(args) <= n):
                raise DefError(f'line {lineno}: `{kw}\' takes {n} arguments')

        if kw == 'protocol':
            need(2)
            d.version = _int(args[0], 'version', lineno)
            d.magic = _int(args[1], 'magic', lineno)
        elif kw == 'channel':
            need(3, 2)
            n = _int(args[0], 'channel number', lineno)
            if not 0 <= n <= 255 or n in d.channels:
                raise DefError(f'line {lineno}: bad or duplicate channel {n}')
            if not NAME_RE.match(args[1]) or d.channel_number(args[1]) is not None:
                raise DefError(f'line {lineno}: bad or duplicate channel name `{args[1]}\'')
            if len(args) == 3 and args[2] != 'reserved':
                raise DefError(f'line {lineno}: unknown channel flag `{args[2]}\'')
            d.channels[n] = (args[1], len(args) == 3)
        elif kw == 'reserve':
            need(3)
            first, last = _int(args[0], 'type', lineno), _int(args[1], 'type', lineno)
            if d.channel_number(args[2]) is None or not 0 < first <= last <= 0xffff:
                raise DefError(f'line {lineno}: bad reserve')
            d.reserves.append((first, last, args[2]))
        elif kw == 'message':
            need(5)
            t = _int(args[0], 'type', lineno)
            if not 0 < t <= 0xffff:
                raise DefError(f'line {lineno}: type {t:#x} out of range')
            if not NAME_RE.match(args[1]):
                raise DefError(f'line {lineno}: bad message name `{args[1]}\'')
            if args[3] not in DIRS:
                raise DefError(f'line {lineno}: bad direction `{args[3]}\'')
            cur = Message(t, args[1], args[2], args[3], _int(args[4], 'maximum', lineno), lineno)
            d.messages.append(cur)
        elif kw == 'field':
            need(3, 2)
            if cur is None:
                raise DefError(f'line {lineno}: field outside a message')
            name, kind = args[0], args[1]
            if not FIELD_RE.match(name) or name in ('type', 'channel', 'flags'):
                raise DefError(f'line {lineno}: bad field name `{name}\'')
            if kind in FIXED:
                if len(args) != 2:
                    raise DefError(f'line {lineno}: fixed field `{name}\' takes no maximum')
                maxlen = None
            elif kind in VARIABLE:
                if len(args) != 3:
                    raise DefError(f'line {lineno}: `{kind}\' field `{name}\' needs a maximum')
                maxlen = _int(args[2], 'maximum length', lineno)
                if not 0 < maxlen <= UNKNOWN_MAX:
                    raise DefError(f'line {lineno}: maximum length out of range')
            else:
                raise DefError(f'line {lineno}: unknown kind `{kind}\'')
            if cur.fields and cur.fields[-1].kind == 'blob':
                raise DefError(f'line {lineno}: a blob must be the last field')
            if any(f.name == name for f in cur.fields):
                raise DefError(f'line {lineno}: duplicate field `{name}\'')
            cur.fields.append(Field(name, kind, maxlen))
        elif kw == 'value':
            need(3)
            if not FIELD_RE.match(args[0]) or not VALUE_RE.match(args[2]):
                raise DefError(f'line {lineno}: bad value')
            group = d.values.setdefault(args[0], [])
            n = _int(args[1], 'value', lineno)
            if any(v == n or nm == args[2] for v, nm in group):
                raise DefError(f'line {lineno}: duplicate value in `{args[0]}\'')
            group.append((n, args[2]))
        elif kw == 'cap':
            need(2)
            bit = _int(args[0], 'bit', lineno)
            if not 0 <= bit < 64 or any(b == bit or n == args[1] for b, n in d.caps):
                raise DefError(f'line {lineno}: bad or duplicate capability')
            d.caps.append((bit, args[1]))
        else:
            raise DefError(f'line {lineno}: unknown keyword `{kw}\'')

    if d.version is None:
        raise DefError('no `protocol\' line')
    seen_types, seen_names = set(), set()
    for m in d.messages:
        where = f'line {m.line}: {m.name}'
        n = d.channel_number(m.channel)
        if n is None:
            raise DefError(f'{where}: unknown channel `{m.channel}\'')
        if d.channels[n][1]:
            raise DefError(f'{where}: channel `{m.channel}\' is reserved')
        if m.type in seen_types or m.name in seen_names:
            raise DefError(f'{where}: duplicate type or name')
        if any(first <= m.type <= last for first, last, _ in d.reserves):
            raise DefError(f'{where}: type {m.type:#x} is in a reserved range')
        seen_types.add(m.type)
        seen_names.add(m.name)
        if m.computed_max() != m.max_size:
            raise DefError(f'{where}: maximum {m.max_size} but the fields add up to {m.computed_max()}')
        if m.max_size > UNKNOWN_MAX:
            raise DefError(f'{where}: maximum over 1 MiB')
    return d


def cident(name):
    """A value or capability name as a C identifier suffix: view-only -> VIEW_ONLY, 4:4:4 -> 444."""
    return name.replace(':', '').replace('-', '_').upper()


# --- C generation --------------------------------------------------------------------------------

def gen_header(d, shared_types=True):
    o = []
    w = o.append
    w('/* Generated by schema/wiregen.py from schema/wire.def: do not edit. */')
    w('#pragma once')
    w('')
    w('#include <stddef.h>')
    w('#include <stdint.h>')
    w('#include <sys/types.h>')
    w('')
    w('#include "buffer.h"')
    if not shared_types:
        w('#include "wire.h" /* frame helpers, type descriptions */')
    w('')
    w(f'#define WIRE_VERSION {d.version}')
    w(f'#define WIRE_MAGIC UINT32_C({d.magic:#010x})')
    w('')
    w('/* Directions, as a bit mask: a `both\' type matches either. */')
    w('#define WIRE_DIR_C2S 1')
    w('#define WIRE_DIR_S2C 2')
    w('#define WIRE_DIR_BOTH 3')
    w('')
    for n, (name, reserved) in sorted(d.channels.items()):
        w(f'#define WIRE_CHANNEL_{cident(name)} {n}' + (' /* reserved */' if reserved else ''))
    w('')
    for first, last, ch in d.reserves:
        w(f'#define WIRE_RESERVED_{cident(ch)}_FIRST {first:#06x}')
        w(f'#define WIRE_RESERVED_{cident(ch)}_LAST {last:#06x}')
    w('')
    for m in d.messages:
        w(f'#define WIRE_TYPE_{m.macro} {m.type:#06x}')
    w('')
    w('/* Maximum payload per type, and maximum length per string/bytes/blob field. */')
    for m in d.messages:
        w(f'#define WIRE_{m.macro}_SIZE_MAX {m.max_size}')
        for f in m.fields:
            if not f.fixed:
                w(f'#define WIRE_{m.macro}_{f.name.upper()}_MAX {f.maxlen}')
    w(f'/* The largest payload of any known type. */')
    w(f'#define WIRE_KNOWN_SIZE_MAX {max(m.max_size for m in d.messages)}')
    w('')
    for group, values in d.values.items():
        for n, name in values:
            w(f'#define WIRE_{cident(group)}_{cident(name)} {n}')
        w('')
    for bit, name in d.caps:
        w(f'#define WIRE_CAP_{cident(name)} (UINT64_C(1) << {bit})')
    w('')
    w('/* One struct per message with fields. Strings, bytes and blobs point into the decoded payload')
    w(' * (zero copy): strings are NOT NUL-terminated, print them with "%.*s". */')
    for m in d.messages:
        if not m.fields:
            continue
        w(f'typedef struct {m.struct} {{')
        for f in m.fields:
            if f.fixed:
                w(f'        {CTYPE[f.kind]} {f.name};')
            elif f.kind == 'string':
                w(f'        const char *{f.name};')
                w(f'        size_t {f.name}_len;')
            else:
                w(f'        const uint8_t *{f.name};')
                w(f'        size_t {f.name}_len;')
        w(f'}} {m.struct};')
        w('')
    w('/* A decoded message: type and channel from the frame, then the member named after the type.')
    w(' * Messages without fields (' + ', '.join(m.name for m in d.messages if not m.fields) +
      ') have no member. */')
    w('typedef struct WireMessage {')
    w('        uint16_t type;')
    w('        uint8_t channel;')
    w('        uint8_t flags; /* from the frame header; unknown bits are ignored */')
    w('        union {')
    for m in d.messages:
        if m.fields:
            w(f'                {m.struct} {m.cname};')
    w('        };')
    w('} WireMessage;')
    w('')
    w('/* Decodes one payload. Returns 0 and fills *ret (pointers into payload), or:')
    w(' *   -ENOMSG   a type this version does not know: skip the frame (the spec says so);')
    w(' *   -EPROTO   a known type on another channel;')
    w(' *   -EMSGSIZE a payload over the type\'s maximum;')
    w(' *   -EBADMSG  a payload that does not parse: short, a length over its maximum or past the end,')
    w(' *             trailing bytes, a string that is not UTF-8 or holds a NUL.')
    w(' * *ret is untouched on failure. */')
    w('int wire_decode(uint16_t type, uint8_t channel, const uint8_t *payload, size_t len, WireMessage *ret);')
    w('')
    w('/* Encoders append one whole frame (header and payload) to b, or nothing: 0, or -EMSGSIZE (a')
    w(' * field over its maximum), -EINVAL (a string that is not UTF-8 or holds a NUL, or a NULL')
    w(' * pointer with a non-zero length), -ENOBUFS (b\'s limit would be exceeded), -ENOMEM. */')
    for m in d.messages:
        if m.fields:
            w(f'int wire_encode_{m.cname}(Buffer *b, const {m.struct} *m);')
        else:
            w(f'int wire_encode_{m.cname}(Buffer *b);')
    w('/* Encodes whichever message m->type names (m->channel and m->flags are ignored); -ENOMSG for an')
    w(' * unknown type. */')
    w('int wire_encode(Buffer *b, const WireMessage *m);')
    w('')
    if shared_types:  # other protocols take them from wire-gen.h
        w('/* A description of every message, generated with the code: tests and fuzzers walk it to')
        w(' * build, compare and touch every field of every type without a line per type. */')
        w('typedef enum WireKind {')
        for k in list(FIXED) + list(VARIABLE):
            w(f'        WIRE_KIND_{k.upper()},')
        w('} WireKind;')
        w('')
        w('typedef struct WireFieldInfo {')
        w('        const char *name;')
        w('        WireKind kind;')
        w('        size_t offset;     /* of the value or pointer, within WireMessage */')
        w('        size_t len_offset; /* of the size_t length (string, bytes, blob), within WireMessage */')
        w('        size_t max;        /* maximum length (string, bytes, blob) */')
        w('} WireFieldInfo;')
        w('')
        w('typedef struct WireTypeInfo {')
        w('        uint16_t type;')
        w('        uint8_t channel;')
        w('        uint8_t direction;')
        w('        size_t max_size;')
        w('        const char *name;')
        w('        const WireFieldInfo *fields;')
        w('        size_t n_fields;')
        w('} WireTypeInfo;')
        w('')
    w('extern const WireTypeInfo wire_types[];')
    w('extern const size_t wire_types_count;')
    w('/* NULL when unknown. */')
    w('const WireTypeInfo *wire_type_info(uint16_t type);')
    w('')
    w('/* Facts about types: the name ("hello"; "unknown" for a type not in the .def), the channel')
    w(' * number, the WIRE_DIR_* mask and the maximum payload; the last three -ENOMSG when unknown. */')
    w('const char *wire_type_name(uint16_t type);')
    w('int wire_type_channel(uint16_t type);')
    w('int wire_type_direction(uint16_t type);')
    w('ssize_t wire_max_size(uint16_t type);')
    w('/* "display", or NULL for a channel number not in the .def. */')
    w('const char *wire_channel_name(uint8_t channel);')
    w('/* Names of values ("ticket-expired" for code 4), NULL when unknown. */')
    for group in d.values:
        w(f'const char *wire_{group}_name(unsigned value);')
    w('/* Name of a capability bit ("codec-jpeg" for 2), NULL when unknown. */')
    w('const char *wire_cap_name(unsigned bit);')
    w('')
    names = [l.split()[1] for l in o if l.startswith('#define ')]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DefError('names collide in C: ' + ', '.join(sorted(dup)))
    return '\n'.join(o)


def gen_source(d):
    o = []
    w = o.append
    w('/* Generated by schema/wiregen.py from schema/wire.def: do not edit. */')
    w('#include <errno.h>')
    w('#include <stddef.h>')
    w('#include <string.h>')
    w('')
    w('#include "unaligned.h"')
    w('#include "wire.h"')
    w('')
    getter = {'u8': 'p[off]', 'u16': 'get_le16(p + off)', 'u32': 'get_le32(p + off)',
              'u64': 'get_le64(p + off)', 'i32': '(int32_t) get_le32(p + off)'}
    putter = {'u8': 'q[0] = m->{0};', 'u16': 'put_le16(q, m->{0});', 'u32': 'put_le32(q, m->{0});',
              'u64': 'put_le64(q, m->{0});', 'i32': 'put_le32(q, (uint32_t) m->{0});'}

    # Decoders.
    for m in d.messages:
        if not m.fields:
            w(f'static int decode_{m.cname}(const uint8_t *p, size_t len) {{')
            w('        (void) p;')
            w('        return len == 0 ? 0 : -EBADMSG;')
            w('}')
            w('')
            continue
        w(f'static int decode_{m.cname}(const uint8_t *p, size_t len, {m.struct} *ret) {{')
        w(f'        {m.struct} m = {{}};')
        w('        size_t off = 0;')
        if any(f.kind in ('string', 'bytes') for f in m.fields):
            w('        int r;')
        w('')
        if m.is_fixed():
            w(f'        if (len != {m.max_size})')
            w('                return -EBADMSG;')
        i = 0
        while i < len(m.fields):
            f = m.fields[i]
            if f.fixed:
                # A run of fixed fields: one bounds check, then plain reads.
                j = i
                run = 0
                while j < len(m.fields) and m.fields[j].fixed:
                    run += FIXED[m.fields[j].kind]
                    j += 1
                if not m.is_fixed():
                    w(f'        if (len - off < {run})')
                    w('                return -EBADMSG;')
                for g in m.fields[i:j]:
                    w(f'        m.{g.name} = {getter[g.kind]};')
                    w(f'        off += {FIXED[g.kind]};')
                i = j
                continue
            limit = f'WIRE_{m.macro}_{f.name.upper()}_MAX'
            if f.kind == 'string':
                w(f'        r = wire_get_string(p, len, &off, {limit}, &m.{f.name}, &m.{f.name}_len);')
                w('        if (r < 0)')
                w('                return r;')
            elif f.kind == 'bytes':
                w(f'        r = wire_get_bytes(p, len, &off, {limit}, &m.{f.name}, &m.{f.name}_len);')
                w('        if (r < 0)')
                w('                return r;')
            else:
                w(f'        if (len - off > {limit})')
                w('                return -EBADMSG;')
                w(f'        m.{f.name} = p + off;')
                w(f'        m.{f.name}_len = len - off;')
            i += 1
        if m.fields[-1].kind != 'blob':
            w('        if (off != len)')
            w('                return -EBADMSG; /* trailing bytes */')
        w('        *ret = m;')
        w('        return 0;')
        w('}')
        w('')

    w('int wire_decode(uint16_t type, uint8_t channel, const uint8_t *payload, size_t len, WireMessage *ret) {')
    w('        WireMessage m = { .type = type, .channel = channel };')
    w('        ssize_t max = wire_max_size(type);')
    w('        int r;')
    w('')
    w('        if (max < 0)')
    w('                return -ENOMSG;')
    w('        if (wire_type_channel(type) != channel)')
    w('                return -EPROTO;')
    w('        if (len > (size_t) max)')
    w('                return -EMSGSIZE;')
    w('        if (len > 0 && !payload)')
    w('                return -EINVAL;')
    w('        switch (type) {')
    for m in d.messages:
        w(f'        case WIRE_TYPE_{m.macro}:')
        if m.fields:
            w(f'                r = decode_{m.cname}(payload, len, &m.{m.cname});')
        else:
            w(f'                r = decode_{m.cname}(payload, len);')
        w('                break;')
    w('        default:')
    w('                return -ENOMSG;')
    w('        }')
    w('        if (r < 0)')
    w('                return r;')
    w('        *ret = m;')
    w('        return 0;')
    w('}')
    w('')

    # Encoders.
    for m in d.messages:
        if m.fields:
            w(f'int wire_encode_{m.cname}(Buffer *b, const {m.struct} *m) {{')
        else:
            w(f'int wire_encode_{m.cname}(Buffer *b) {{')
        w(f'        size_t size = {m.min_size()};')
        w('        uint8_t *q;')
        w('        int r;')
        w('')
        for f in m.fields:
            if f.fixed:
                continue
            limit = f'WIRE_{m.macro}_{f.name.upper()}_MAX'
            w(f'        if (m->{f.name}_len > {limit})')
            w('                return -EMSGSIZE;')
            w(f'        if (m->{f.name}_len > 0 && !m->{f.name})')
            w('                return -EINVAL;')
            if f.kind == 'string':
                w(f'        if (!wire_string_valid(m->{f.name}, m->{f.name}_len))')
                w('                return -EINVAL;')
            w(f'        size += m->{f.name}_len;')
        w(f'        r = wire_frame_begin(b, WIRE_TYPE_{m.macro}, WIRE_CHANNEL_{cident(m.channel)}, size, &q);')
        w('        if (r < 0)')
        w('                return r;')
        for f in m.fields:
            if f.fixed:
                w('        ' + putter[f.kind].format(f.name))
                w(f'        q += {FIXED[f.kind]};')
            else:
                if f.kind != 'blob':
                    w(f'        put_le32(q, (uint32_t) m->{f.name}_len);')
                    w('        q += 4;')
                w(f'        if (m->{f.name}_len > 0)')
                w(f'                memcpy(q, m->{f.name}, m->{f.name}_len);')
                w(f'        q += m->{f.name}_len;')
        w('        (void) q;')
        w('        wire_frame_end(b, size);')
        w('        return 0;')
        w('}')
        w('')

    w('int wire_encode(Buffer *b, const WireMessage *m) {')
    w('        switch (m->type) {')
    for m in d.messages:
        w(f'        case WIRE_TYPE_{m.macro}:')
        if m.fields:
            w(f'                return wire_encode_{m.cname}(b, &m->{m.cname});')
        else:
            w(f'                return wire_encode_{m.cname}(b);')
    w('        default:')
    w('                return -ENOMSG;')
    w('        }')
    w('}')
    w('')

    def switch(fn_decl, cases, default):
        w(fn_decl + ' {')
        w('        switch (' + fn_decl.split('(')[1].split()[-1].rstrip(')') + ') {')
        for k, v in cases:
            w(f'        case {k}:')
            w(f'                return {v};')
        w('        default:')
        w(f'                return {default};')
        w('        }')
        w('}')
        w('')

    for m in d.messages:
        if not m.fields:
            continue
        w(f'static const WireFieldInfo fields_{m.cname}[] = {{')
        for f in m.fields:
            if f.fixed:
                w(f'        {{ "{f.name}", WIRE_KIND_{f.kind.upper()}, offsetof(WireMessage, {m.cname}.{f.name}), 0, 0 }},')
            else:
                w(f'        {{ "{f.name}", WIRE_KIND_{f.kind.upper()}, offsetof(WireMessage, {m.cname}.{f.name}),')
                w(f'          offsetof(WireMessage, {m.cname}.{f.name}_len), WIRE_{m.macro}_{f.name.upper()}_MAX }},')
        w('};')
        w('')
    w('const WireTypeInfo wire_types[] = {')
    for m in d.messages:
        fields = f'fields_{m.cname}, {len(m.fields)}' if m.fields else 'NULL, 0'
        w(f'        {{ WIRE_TYPE_{m.macro}, WIRE_CHANNEL_{cident(m.channel)}, {DIRS[m.direction]}, '
          f'WIRE_{m.macro}_SIZE_MAX, "{m.name}", {fields} }},')
    w('};')
    w('const size_t wire_types_count = sizeof(wire_types) / sizeof(wire_types[0]);')
    w('')
    switch('const WireTypeInfo *wire_type_info(uint16_t type)',
           [(f'WIRE_TYPE_{m.macro}', f'&wire_types[{i}]') for i, m in enumerate(d.messages)], 'NULL')
    switch('const char *wire_type_name(uint16_t type)',
           [(f'WIRE_TYPE_{m.macro}', f'"{m.name}"') for m in d.messages], '"unknown"')
    switch('int wire_type_channel(uint16_t type)',
           [(f'WIRE_TYPE_{m.macro}', f'WIRE_CHANNEL_{cident(m.channel)}') for m in d.messages], '-ENOMSG')
    switch('int wire_type_direction(uint16_t type)',
           [(f'WIRE_TYPE_{m.macro}', DIRS[m.direction]) for m in d.messages], '-ENOMSG')
    switch('ssize_t wire_max_size(uint16_t type)',
           [(f'WIRE_TYPE_{m.macro}', f'WIRE_{m.macro}_SIZE_MAX') for m in d.messages], '-ENOMSG')
    switch('const char *wire_channel_name(uint8_t channel)',
           [(str(n), f'"{name}"') for n, (name, _) in sorted(d.channels.items())], 'NULL')
    for group, values in d.values.items():
        switch(f'const char *wire_{group}_name(unsigned value)',
               [(str(n), f'"{name}"') for n, name in values], 'NULL')
    switch('const char *wire_cap_name(unsigned bit)', [(str(b), f'"{n}"') for b, n in d.caps], 'NULL')
    return '\n'.join(o)


# Names the frame helpers and the shared type descriptions keep under any prefix.
SHARED = re.compile(r'\b(wire_(?:frame_begin|frame_end|get_bytes|get_string|string_valid)'
                    r'|Wire(?:Kind|FieldInfo|TypeInfo)\b|WIRE_KIND_)')


def with_prefix(text, prefix, def_name):
    """Renames wire's generated names to PREFIX's, leaving the shared ones alone."""
    if prefix == 'wire':
        return text
    text = text.replace('schema/wire.def', f'schema/{def_name}')
    text = text.replace('#include "wire.h"\n', f'#include "{prefix}.h"\n')
    shared = {}

    def keep(m):
        shared[f'@{len(shared)}@'] = m.group(0)
        return f'@{len(shared) - 1}@'
    text = SHARED.sub(keep, text)
    text = re.sub(r'\bWIRE_', prefix.upper() + '_', text)
    text = re.sub(r'\bWire', prefix.capitalize(), text)
    text = re.sub(r'\bwire_', prefix + '_', text)
    for k, v in shared.items():
        text = text.replace(k, v)
    return text


def main(argv):
    prefix = 'wire'
    if len(argv) > 2 and argv[1] == '--prefix':
        prefix = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) != 4 or not re.fullmatch(r'[a-z]+', prefix):
        print('usage: wiregen.py [--prefix NAME] FILE.def FILE-gen.h FILE-gen.c', file=sys.stderr)
        return 2
    with open(argv[1], encoding='utf-8') as f:
        try:
            d = parse(f.read())
        except DefError as e:
            print(f'{argv[1]}: {e}', file=sys.stderr)
            return 1
    try:
        header = gen_header(d, shared_types=(prefix == 'wire'))
        outputs = ((argv[2], header), (argv[3], gen_source(d)))
    except DefError as e:
        print(f'{argv[1]}: {e}', file=sys.stderr)
        return 1
    def_name = argv[1].rsplit('/', 1)[-1]
    for path, text in outputs:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(with_prefix(text, prefix, def_name))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
