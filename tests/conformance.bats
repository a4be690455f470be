#!/usr/bin/env bats
# conformance.bats: RFC 8259 conformance of the JSON task lines (issue 19).
#
# One test per class of input: structure, white space, literals, numbers,
# strings, surrogates, UTF-8, byte order mark, truncated documents,
# extensions that are not JSON, two values on a line, top-level scalars,
# blank lines, NUL, nesting depth, duplicate names, long lines.  The cases
# are our own, written below in Python (bytes exactly), with the record each
# must get.  Every class goes through seven runs of ppool, each wrapped in
# timeout(1):
#   worker    -w cat: a valid line's result is the line itself, byte for
#             byte (trimmed of white space, as records splice it);
#   raw       -o raw -w cat: stdout is the valid lines, byte for byte;
#   args      -- printf '%s\n': the line gives the arguments;
#   dry-args  --dry-run -- printf '%s\n': the same, resolved, not run;
#   cmd       each case wrapped in a task object with "cmd": a string as
#             its "stdin" (cat echoes it), a number or boolean as an
#             argument in "cmd", any other value as a member "v";
#   dry-cmd   the same with --dry-run;
#   bare      no COMMAND, the line as it is: no valid case says what to
#             run, so each gets the error record of command mode.
# For every line: one record with the right seq (none for a blank line),
# strict JSON (jq and Python agree), ok or the error record the contract
# gives ("invalid JSON at byte N" and the like, exactly), the exit status
# the number of failed tasks, no crash (status >= 128) and no hang.
#
# Where RFC 8259 leaves the choice to the implementation (nesting depth,
# numbers beyond a double, duplicate names, lone surrogates, a BOM, NUL),
# the cases assert what ppool(1) says under INPUT, "JSON conformance".

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file
load helpers

setup_file() {
	# The interpreter itself: a version manager's python3 (pyenv's shim)
	# can take a second to start, and the tests start it 18 times.
	PYTHON=$(python3 -c 'import sys; print(sys.executable)')
	export PYTHON CONF=$BATS_FILE_TMPDIR/conf.py
	cat >"$CONF" <<'PY'
"""conf.py gen DIR: write DIR/CLASS/plain, wrapped and opts for each class;
conf.py check CLASS DIR: check DIR/MODE.out, MODE.err and MODE.rc."""
import json
import os
import re
import sys

sys.setrecursionlimit(20000)
MODES = ['worker', 'raw', 'args', 'dry-args', 'cmd', 'dry-cmd', 'bare']

OK, BLANK, NUL, LONG = ('ok',), ('blank',), ('nul',), ('long',)
END = 'end'          # invalid at the byte after the end of the line
SWALLOW = 'swallow'  # the same, but a wrapper's closing brace completes it
WS = b' \t\r\n'
MAXLINE = 1 << 20    # --max-line of the class "long"


def V(*lines):
    return [(l, OK, None) for l in lines]


def B(*cases):
    """(line, N) or (line, N, N when wrapped): invalid JSON at byte N."""
    return [(c[0], ('bad', c[1]), ('bad', c[2]) if len(c) > 2 else None)
            for c in cases]


def D(line, n, wrapped=None):
    """Nested too deep at byte n (alone) and at wrapped (in a wrapper)."""
    return (line, ('deep', n) if n else OK,
            ('deep', wrapped) if wrapped else None)


CLASSES = {
    'structure': V(
        b'[]', b'{}', b'[[]]', b'[{}]', b'{"a":[]}', b'{"a":{"b":{}}}',
        b'[1,[2,[3,[4]]]]', b'{"a":1,"b":[true,null],"c":{"d":"e"}}',
        b'["a",1,true,null,{},[]]', b'{"":""}', b'[ ]', b'{ }',
        b'{"a":1,"b":2,"c":3}',
    ) + B(
        (b'[1 2]', 4), (b'{"a" 1}', 6), (b'{"a":1 "b":2}', 8), (b'{1:2}', 2),
        (b"{'a':1}", 2), (b'{a:1}', 2), (b'[1,,2]', 4), (b'[,1]', 2),
        (b'{,}', 2), (b']', 1), (b'}', 1), (b'[}', 2), (b'{]', 2),
        (b'{"a"}', 5), (b'{"a":}', 6), (b':', 1), (b',', 1), (b'[1]]', 4),
        (b'{"a":1}}', 8, 9), (b'[1:2]', 3), (b'{"a",1}', 5), (b'{"a"::1}', 6),
        (b'[1;2]', 3), (b'(1)', 1), (b'<a/>', 1), (b'{"a":1,"b"}', 11),
        (b'[{]', 3), (b'{[]}', 2), (b'{"a":[}', 7),
    ),
    'whitespace': V(
        b' [ 1 , 2 ] ', b'\t{\t"a"\t:\t1\t}\t', b'[1,\r2]', b'  1', b'1  ',
        b'\r1\r', b'"a"\r', b'[1,2]\r', b'{ "a" : [ 1 , { "b" : null } ] }',
        b' \t\r\t "x" \t\r',
    ) + B(
        (b'\x0c[]', 1), (b'\x0b[]', 1), (b'\xc2\xa0[]', 1), (b'[1,\x0c2]', 4),
        (b'[1]\x0c', 4), (b'\x1b', 1), (b'\xe2\x80\x83[]', 1),
        (b'[\xe3\x80\x801]', 2), (b'{"a":1}\x1a', 8),
    ),
    'literals': V(
        b'true', b'false', b'null', b'[true,false,null]',
        b'{"t":true,"f":false,"n":null}', b' true ',
    ) + B(
        (b'True', 1), (b'TRUE', 1), (b'tru', 1), (b'truex', 5), (b'true1', 5),
        (b'nul', 1), (b'nulll', 5), (b'nil', 1), (b'undefined', 1), (b't', 1),
        (b'f', 1), (b'n', 1), (b'[tru]', 2), (b'[true false]', 7),
        (b'{"a":nul}', 6), (b'None', 1), (b'yes', 1),
        (b'\xe2\x80\x9ctrue\xe2\x80\x9d', 1),
    ),
    'numbers': V(
        b'0', b'-0', b'0.0', b'-0.0', b'1', b'-1', b'123', b'0.5', b'-0.5',
        b'1e5', b'1E5', b'1e+5', b'1e-5', b'1E+05', b'0e0', b'-0e-0',
        b'1.5e300', b'1.7976931348623157e308', b'1.7976931348623159e308',
        b'2.2250738585072011e-308', b'4.9e-324', b'1e-999', b'-1e-999',
        b'1e999', b'-1e999', b'1E400', b'1e00000000000000000001',
        b'9007199254740993', b'18446744073709551616',
        b'-9223372036854775809', b'123456789012345678901234567890',
        b'0.1000000000000000055511151231257827021181583404541015625',
        b'1' + b'0' * 400, b'-0.' + b'0' * 400 + b'1',
        b'[1e999,-0,1e-999,123456789012345678901234567890]',
        b'{"n":1e999}',
    ) + B(
        (b'01', 2), (b'-01', 3), (b'00', 2), (b'012', 2), (b'+1', 1),
        (b'.5', 1), (b'-.5', 2), (b'.', 1), (b'5.', END), (b'0.', END),
        (b'1.e5', 3), (b'2.e3', 3), (b'1e', END), (b'1e+', END),
        (b'1E-', END), (b'1.0e', END), (b'1ee2', 3), (b'1.0e+-1', 6),
        (b'-', END), (b'--1', 2), (b'- 1', 2), (b'0x10', 2), (b'-0x1', 3),
        (b'1_000', 2), (b'1 000', 3), (b'1.5.5', 4), (b'1e5.5', 4),
        (b'1e1.0', 4), (b'NaN', 1), (b'-NaN', 2), (b'Infinity', 1),
        (b'-Infinity', 2), (b'\xd9\xa1', 1), (b'[01]', 3), (b'[1.]', 4),
        (b'{"n":-}', 7), (b'1,5', 2, 3),
    ),
    'strings': V(
        b'""', b'"a"', b'"\\""', b'"\\\\"', b'"\\/"', b'"\\b\\f\\n\\r\\t"',
        b'"\\u0041"', b'"\\u00e9"', b'"\\u20ac"', b'"\\u20AC"', b'"\\uFFFF"',
        b'"\\uAbCd"', b'"\\u001f"', b'"\\u007f"', b'"\x7f"', b'" "', b'"/"',
        b'"\'"', b'"a\\\\nb"', b'"\\u0022\\u005c"',
        b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041 %s %% {} \\\\u0041"',
        b'["a","\\n",""]', b'{"\\n\\t":"\\r"}',
    ) + B(
        (b'"\\x"', 3), (b'"\\a"', 3), (b'"\\\'"', 3), (b'"\\U0041"', 3),
        (b'"\\0"', 3), (b'"\\ u0041"', 3), (b'"\\u12"', 6), (b'"\\u12G4"', 6),
        (b'"\\u"', 4), (b'"\\uX000"', 4), (b'"\\u-123"', 4),
        (b'"\\u 123"', 4), (b'"\\u0x12"', 5), (b'"\\', END), (b'"a\\', END),
        (b'"\\"', SWALLOW), (b'"\x01"', 2), (b'"\x1f"', 2), (b'"a\tb"', 3),
        (b'"a\rb"', 3), (b"'a'", 1), (b'"abc', SWALLOW), (b'"a"b"', 4),
        (b'"\\u00e9', SWALLOW), (b'["a\x08"]', 4), (b'{"a\x0c":1}', 4),
    ),
    'surrogates': V(
        b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00"', b'"\\ud800\\udc00"',
        b'"\\udbff\\udfff"', b'"a\\ud83d\\ude00b"',
        # Lone surrogates (implementation-defined).
        b'"\\ud800"', b'"\\udc00"', b'"\\udfff"', b'"\\ud800a"',
        b'"\\ud800\\u0041"', b'"\\udc00\\ud800"', b'"\\ud800\\ud800"',
        b'"\\ud800\\ud83d\\ude00"', b'"\\ude00\\ud83d"', b'"\\ud800\\n"',
        b'["\\ud800"]', b'["x","\\udbff"]', b'{"\\udc00":1}',
        b'{"k":"\\ud800"}', b'{"args":["\\ud800"]}',
    ) + B(
        (b'"\\ud800\\u"', 10), (b'"\\uD800\\uDC0"', 13),
        (b'"\\ud83d\\ude0g"', 13), (b'"\\ud83d\\', END),
        (b'"\\ud83d', SWALLOW),
    ),
    'utf8': V(
        b'"\xc3\xa9"', b'"\xe2\x82\xac"', b'"\xf0\x9f\x98\x80"',
        b'"\xc2\x80"', b'"\xdf\xbf"', b'"\xe0\xa0\x80"', b'"\xed\x9f\xbf"',
        b'"\xee\x80\x80"', b'"\xef\xbf\xbd"', b'"\xef\xbf\xbe\xef\xbf\xbf"',
        b'"\xf0\x90\x80\x80"', b'"\xf4\x8f\xbf\xbf"', b'"\xe2\x80\xa8"',
        b'{"\xc3\xa9":"\xe2\x82\xac"}', b'["\xf0\x9f\x98\x80",1]',
    ) + B(
        (b'"\x80"', 2), (b'"\xbf"', 2), (b'"\xc0\x80"', 2), (b'"\xc0\xaf"', 2),
        (b'"\xc1\xbf"', 2), (b'"\xe0\x80\xaf"', 2), (b'"\xe0\x9f\xbf"', 2),
        (b'"\xf0\x80\x80\xaf"', 2), (b'"\xf0\x8f\xbf\xbf"', 2),
        (b'"\xed\xa0\x80"', 2), (b'"\xed\xbf\xbf"', 2),
        (b'"\xed\xa0\xbd\xed\xb8\x80"', 2), (b'"\xf4\x90\x80\x80"', 2),
        (b'"\xf5\x80\x80\x80"', 2), (b'"\xf8\x88\x80\x80\x80"', 2),
        (b'"\xfe"', 2), (b'"\xff"', 2), (b'"\xc3"', 2), (b'"\xe2\x82"', 2),
        (b'"\xf0\x9f\x98"', 2), (b'"a\xc3("', 3), (b'"\xc3\xa9\x80"', 4),
        (b'"\xf0\x9f\x98\x28"', 2), (b'\xff', 1), (b'[\xc3\xa9]', 2),
        (b'{"\xff":1}', 3), (b'"\xc3\xa9', SWALLOW), (b'"\xc3', 2),
    ),
    'bom': V(
        b'"\xef\xbb\xbf"', b'"\\ufeff"', b'["\xef\xbb\xbfx"]',
        b'{"\xef\xbb\xbf":1}',
    ) + B(
        (b'\xef\xbb\xbf1', 1), (b'\xef\xbb\xbf{}', 1), (b'\xef\xbb\xbf"a"', 1),
        (b'\xef\xbb\xbf', 1), (b'\xef\xbb\xbf ', 1), (b' \xef\xbb\xbf1', 2),
        (b'1\xef\xbb\xbf', 2), (b'[1,\xef\xbb\xbf2]', 4), (b'\xfe\xff1', 1),
        (b'\xff\xfe1', 1),
    ) + [(b'\xff\xfe1\x00', NUL, None)],
    'truncated': B(
        (b'[', END), (b'{', SWALLOW), (b'[1', END), (b'[1,', END),
        (b'[1,2', END), (b'{"a"', END), (b'{"a":', END), (b'{"a":1', SWALLOW),
        (b'{"a":1,', END), (b'{"a":true', SWALLOW), (b'{"a":"b"', SWALLOW),
        (b'{"', SWALLOW), (b'{"a', SWALLOW), (b'{"a":"b', SWALLOW),
        (b'"abc', SWALLOW), (b'["ab', SWALLOW), (b'"\\u00', END),
        (b'[[[', END), (b'{"a":{"b":[1,{"c"', END), (b'{"a":[', END),
        (b'[true', END), (b'[true,', END), (b'1.', END), (b'1e-', END),
        (b'tru', 1), (b'fals', 1), (b'nul', 1), (b'[tr', 2), (b'{"a":fa', 6),
        # One document over two lines is two tasks, each invalid.
        (b'{"a":', END), (b'1}', 2, 3), (b'[1,', END), (b'2]', 2),
    ),
    'extensions': B(
        # Trailing commas.
        (b'[1,]', 4), (b'{"a":1,}', 8), (b'[1,2,,]', 6), (b'[,]', 2),
        (b'{"a":1,,}', 8), (b'[[1,],2]', 5), (b'{"a":[1,],"b":2}', 9),
        # Comments.
        (b'[1] // c', 5), (b'/* c */ 1', 1), (b'# c', 1), (b'[1 /* c */]', 4),
        (b'// only', 1), (b'{"a":1 /* c */}', 8), (b'1 #x', 3), (b'[1,//', 4),
        # JSON5 and JavaScript.
        (b"{'a':'b'}", 2), (b'{a:1}', 2), (b'0x1F', 2), (b'+1', 1),
        (b'.5', 1), (b'NaN', 1), (b'Infinity', 1), (b'-Infinity', 2),
        (b'"a" + "b"', 5), (b'`a`', 1), (b"'single'", 1),
        (b'{"a":undefined}', 6), (b'[1,2,3,]', 8), (b'{"a":0xFF}', 7),
        (b'"\\x41"', 3), (b'"\\v"', 3),
    ),
    'two values': B(
        (b'1 2', 3), (b'{} {}', 4), (b'[][]', 3), (b'"a""b"', 4),
        (b'"a" "b"', 5), (b'true false', 6), (b'1[]', 2), (b'{}1', 3),
        (b'null,null', 5, 6), (b'1,2', 2, 3), (b'0 0', 3), (b'-0-0', 3),
        (b'[1] [2]', 5), (b'{"a":1}{"b":2}', 8), (b'"x"1', 4), (b'1"x"', 2),
        (b'truetrue', 5), (b'nullnull', 5), (b'[1],[2]', 4, 5),
    ),
    'scalars': V(
        b'1', b'-1.5e3', b'"s"', b'true', b'false', b'null', b'""', b'0',
        b' "x" ', b'"two words"', b'3.25', b'"{}"', b'"[1]"', b'"null"',
    ),
    'blank': V(b'1') + [(b'', BLANK, None)] + V(b'2') + [
        (b'   ', BLANK, None), (b'\t', BLANK, None), (b'\r', BLANK, None),
        (b' \t\r \t', BLANK, None), (b' ' * 5000, BLANK, None),
    ] + V(b'3') + B(
        (b'\x0c', 1), (b'\x0b', 1), (b'\xc2\xa0', 1), (b'\xef\xbb\xbf', 1),
        (b'\x1c', 1),
    ) + [(b'', BLANK, None), (b'', BLANK, None)] + V(
        b'"the last line has no newline"'),
    'nul': [
        (b'\x00', NUL, None), (b'"a\x00b"', NUL, None),
        (b'[1]\x00', NUL, None), (b'\x00[1]', NUL, None),
        (b' \x00 ', NUL, None), (b'{\x00', NUL, None),
        (b'"\xff\x00"', NUL, None),
    ] + V(
        b'"\\u0000"', b'"a\\u0000b"', b'["\\u0000"]', b'{"k":"\\u0000"}',
        b'"\\u0000\\u0000"', b'{"\\u0000":1}', b'"\\u0001\\u0000\\u001f"',
    ),
    'depth': [
        D(b'[' * 511 + b']' * 511, 0),
        D(b'[' * 511 + b'1' + b']' * 511, 0),
        D(b'[' * 512 + b']' * 512, 0, 512),
        D(b'[' * 513 + b']' * 513, 513, 512),
        D(b'{"a":' * 512 + b'1' + b'}' * 512, 0, 5 * 511 + 1),
        D(b'{"a":' * 513 + b'1' + b'}' * 513, 5 * 512 + 1, 5 * 511 + 1),
        D(b'[{"a":' * 256 + b'1' + b'}]' * 256, 0, 255 * 6 + 2),
        D(b'[{"a":' * 257 + b'1' + b'}]' * 257, 256 * 6 + 1, 255 * 6 + 2),
        D(b'[' * 100000, 513, 512),
        D(b'[' * 100000 + b']' * 100000, 513, 512),
        D(b'{"a":' * 100000, 5 * 512 + 1, 5 * 511 + 1),
        D(b'"' + b'[' * 1000 + b'"', 0),
        D(b'["' + b'{' * 1000 + b'"]', 0),
        (b'[' * 512 + b']' * 511, ('bad', END), ('deep', 512)),
        (b'[' * 512 + b']' * 513, ('bad', 1025), ('deep', 512)),
    ],
    'duplicates': V(
        b'{"a":1,"a":2}', b'{"a":1,"\\u0061":2}', b'{"a":1,"a":1,"a":1}',
        b'{"":1,"":2}', b'{"a":{"b":1,"b":2}}', b'[{"x":1,"x":2}]',
        b'{"a":1,"A":2}', b'{"\\u00e9":1,"\xc3\xa9":2}',
        b'{"e\\u0301":1,"\xc3\xa9":2}', b'{"a":[],"a":{}}',
        b'{"args":["p"],"a":1,"a":2}',
        # ppool's names twice, but inside a member of the user's.
        b'{"v":{"cmd":1,"cmd":2}}', b'{"v":{"id":1,"id":2}}',
        b'[{"args":[],"args":[]}]',
    ),
    'long': V(
        b'"' + b'x' * 100000 + b'"',
        b'"' + b'\\u00e9\\n' * 10000 + b'"',
        b'"' + '\u20ac'.encode() * 30000 + b'"',
        b'[' + b','.join([b'1'] * 20000) + b']',
        b'9' * 100000,
        b'-0.' + b'0' * 100000 + b'1e-99999',
        b'{"k":"' + b'y' * 300000 + b'"}',
        b' ' * 400000 + b'1' + b' ' * 400000,
    ) + [
        (b'"' + b'z' * MAXLINE + b'"', LONG, None),
        (b' ' * (MAXLINE + 1000), BLANK, None),
    ] + B((b'"' + b'x' * 100000, SWALLOW), (b'[' + b'1,' * 50000, END)),
}
OPTS = {'long': ['--max-line=1M']}
NO_LAST_NEWLINE = {'blank'}

# The wrappers of the mode "cmd".
PRE_STDIN = rb'{"cmd":["cat"],"stdin":'
PRE_ARG = rb'{"cmd":["printf","%s\\n",'
PRE_V = rb'{"cmd":["printf","%s\\n","ok"],"v":'
FMT = '%s\\n'
NEEDCMD = 'a task needs one of "cmd" or "pipeline" when no COMMAND is given'
ARGTYPE = 'arguments must be strings, numbers or booleans, not '


class Num(str):
    """A number as it is written."""


class Err(Exception):
    def __init__(self, msg, prefix=False):
        super().__init__(msg)
        self.msg, self.prefix = msg, prefix


def parse(line):
    def constant(c):
        raise ValueError(c)
    return json.loads(line.decode('utf-8'), parse_int=Num, parse_float=Num,
                      parse_constant=constant)


def lone(v):
    """True when v holds a lone surrogate, in a string or a name."""
    if isinstance(v, str) and not isinstance(v, Num):
        return any(0xd800 <= ord(c) <= 0xdfff for c in v)
    if isinstance(v, list):
        return any(lone(e) for e in v)
    if isinstance(v, dict):
        return any(lone(k) or lone(e) for k, e in v.items())
    return False


def fffd(s):
    return ''.join('\ufffd' if 0xd800 <= ord(c) <= 0xdfff else c for c in s)


def argtext(e):
    if isinstance(e, bool):
        return 'true' if e else 'false'
    if isinstance(e, Num):
        return str(e)
    if isinstance(e, str):
        if '\0' in e:
            raise Err('an argument holds a NUL byte')
        return fffd(e)
    if e is None:
        raise Err(ARGTYPE + 'null')
    raise Err(ARGTYPE, prefix=True)


def args_of(v):
    """The arguments a task gives a COMMAND."""
    if v is None:
        raise Err('a task cannot be null')
    if isinstance(v, dict):
        if lone(v):
            raise Err('invalid JSON')
        return [argtext(e) for e in v.get('args', [])]
    if isinstance(v, list):
        return [argtext(e) for e in v]
    return [argtext(v)]


def printed(args):
    return ''.join(a + '\n' for a in args) if args else '\n'


def wrap(line, exp):
    """The task object of mode "cmd" for a case, and its prefix."""
    if exp == BLANK:
        return line, b''
    if exp == OK:
        v = parse(line)
        if isinstance(v, str) and not isinstance(v, Num):
            return PRE_STDIN + line + b'}', PRE_STDIN
        if isinstance(v, (Num, bool)):
            return PRE_ARG + line + b']}', PRE_ARG
    return PRE_V + line + b'}', PRE_V


def failure(exp, line, pre=b''):
    """The error of a case that is no task, or None."""
    kind = exp[0]
    if kind == 'nul':
        return 'task holds a NUL byte'
    if kind == 'long':
        return 'task longer than --max-line (%d bytes)' % MAXLINE
    if kind == 'bad':
        n = exp[1]
        if n == END:
            n = len(line) + 1
        elif n == SWALLOW:
            n = len(line) + (2 if pre else 1)
        return 'invalid JSON at byte %d' % (len(pre) + n)
    if kind == 'deep':
        return ("JSON nested deeper than 512 levels at byte %d "
                "(ppool's limit)" % (len(pre) + exp[1]))
    return None


def expected(cls, mode):
    """[(case, want)], one a record; want is an Err or what an ok record
    holds: ('result', bytes), ('stdout', str), ('cmd', dict)."""
    out = []
    for line, exp, wexp in CLASSES[cls]:
        if exp == BLANK:
            continue
        wrapped = mode in ('cmd', 'dry-cmd')
        if wrapped:
            task, pre = wrap(line, exp)
            e = wexp or exp
        else:
            task, pre, e = line, b'', exp
        msg = failure(e, line, pre)
        if msg is not None:
            out.append((line, Err(msg)))
            continue
        v = parse(line)
        try:
            if mode in ('worker', 'raw'):
                a, b = 0, len(line)
                while a < b and line[a] in WS:
                    a += 1
                while b > a and line[b - 1] in WS:
                    b -= 1
                want = ('result', line if mode == 'raw' else line[a:b])
            elif mode == 'bare':
                if v is None:
                    raise Err('a task cannot be null')
                if isinstance(v, dict) and lone(v):
                    raise Err('invalid JSON')
                raise Err(NEEDCMD)
            elif mode in ('args', 'dry-args'):
                args = args_of(v)
                want = (('stdout', printed(args)) if mode == 'args' else
                        ('cmd', {'cmd': ['printf', FMT] + args}))
            elif pre == PRE_STDIN:
                if lone(v):
                    raise Err('invalid JSON')
                want = (('stdout', v) if mode == 'cmd' else
                        ('cmd', {'cmd': ['cat'], 'stdin': v}))
            elif pre == PRE_ARG:
                want = (('stdout', argtext(v) + '\n') if mode == 'cmd' else
                        ('cmd', {'cmd': ['printf', FMT, argtext(v)]}))
            else:
                if lone(v):
                    raise Err('invalid JSON')
                want = (('stdout', 'ok\n') if mode == 'cmd' else
                        ('cmd', {'cmd': ['printf', FMT, 'ok']}))
        except Err as err:
            want = err
        out.append((line, want))
    return out


def gen(cls, d):
    os.makedirs(d, exist_ok=True)
    lines = CLASSES[cls]
    plain = b'\n'.join(l for l, _, _ in lines)
    wrapped = b'\n'.join(wrap(l, e)[0] for l, e, _ in lines)
    if cls not in NO_LAST_NEWLINE:
        plain += b'\n'
        wrapped += b'\n'
    with open(d + '/plain', 'wb') as f:
        f.write(plain)
    with open(d + '/wrapped', 'wb') as f:
        f.write(wrapped)
    with open(d + '/opts', 'w') as f:
        f.write(' '.join(OPTS.get(cls, [])) + '\n')


def show(b, n=60):
    r = repr(b)
    return r if len(r) <= n else r[:n] + '...(%d bytes)' % len(b)


def strict(line):
    """A record as a dict: strict UTF-8, strict JSON, no field twice (a
    user's value, spliced in, may name a member twice)."""
    objects = []

    def pairs(kv):
        objects.append([k for k, _ in kv])
        return dict(kv)

    def constant(c):
        raise ValueError(c)
    r = json.loads(line.decode('utf-8'), object_pairs_hook=pairs,
                   parse_constant=constant,
                   parse_int=lambda s: int(s) if len(s) < 100 else Num(s))
    # The record is the last object to be completed.
    if objects and len(objects[-1]) != len(set(objects[-1])):
        raise ValueError('a field twice: %r' % objects[-1])
    return r


def check(cls, mode, d):
    want = expected(cls, mode)
    out = open('%s/%s.out' % (d, mode), 'rb').read()
    err = open('%s/%s.err' % (d, mode), 'rb').read()
    rc = int(open('%s/%s.rc' % (d, mode)).read())
    bad = []
    nfail = sum(1 for _, w in want if isinstance(w, Err))
    if rc == 124 or rc >= 128:
        bad.append('ppool crashed or hung: exit status %d' % rc)
    elif rc != min(nfail, 101):
        bad.append('exit status %d, not %d (the failed tasks)' %
                   (rc, min(nfail, 101)))
    if mode == 'raw':
        good = b''.join(w[1] + b'\n' for _, w in want
                        if not isinstance(w, Err))
        if out != good:
            bad.append('stdout is not the valid lines, byte for byte: '
                       'got %s, want %s' % (show(out, 300), show(good, 300)))
        errs = ''.join('ppool: task %d: %s\n' % (i + 1, w.msg)
                       for i, (_, w) in enumerate(want) if isinstance(w, Err))
        if err.decode('utf-8', 'replace') != errs:
            bad.append('stderr: got %s, want %s' % (show(err, 300),
                                                    show(errs, 300)))
        return bad
    if err:
        bad.append('stderr is not empty: ' + show(err, 300))
    if out and not out.endswith(b'\n'):
        bad.append('the last record has no newline')
    recs = out.split(b'\n')[:-1] if out else []
    if len(recs) != len(want):
        bad.append('%d records for %d tasks' % (len(recs), len(want)))
    for i, (raw, (line, w)) in enumerate(zip(recs, want)):
        seq = i + 1
        where = 'task %d %s: ' % (seq, show(line))
        try:
            r = strict(raw)
        except ValueError as e:
            bad.append(where + 'not a JSON record (%s): %s' % (e, show(raw)))
            continue
        if not isinstance(r, dict) or r.get('seq') != seq:
            bad.append(where + 'record out of place: ' + show(raw))
            continue
        if isinstance(w, Err):
            got = r.get('error')
            if (set(r) != {'seq', 'ok', 'error', 'attempts', 'ms'} or
                    r['ok'] is not False or r['attempts'] != 0 or
                    not isinstance(got, str) or
                    not (got.startswith(w.msg) if w.prefix
                         else got == w.msg)):
                bad.append(where + 'want the error %r, got %s' %
                           (w.msg, show(raw, 300)))
            continue
        kind, value = w
        if kind == 'result':
            m = re.fullmatch(rb'\{"seq":%d,"ok":true,"result":(.*),'
                             rb'"worker":[0-9]+,"attempts":1,'
                             rb'"ms":[0-9.]+\}' % seq, raw, re.S)
            if m is None or m.group(1) != value:
                bad.append(where + 'want the result %s byte for byte, '
                           'got %s' % (show(value), show(raw, 300)))
        elif kind == 'stdout':
            if (set(r) != {'seq', 'ok', 'exit', 'signal', 'stdout',
                           'stderr', 'attempts', 'ms'} or
                    r['ok'] is not True or r['exit'] != 0 or
                    r['signal'] is not None or r['stderr'] != '' or
                    r['attempts'] != 1 or r['stdout'] != value):
                bad.append(where + 'want ok with stdout %s, got %s' %
                           (show(value), show(raw, 300)))
        elif kind == 'cmd':
            value = dict(value, seq=seq)
            if r != value:
                bad.append(where + 'want %s, got %s' %
                           (show(json.dumps(value), 200), show(raw, 300)))
    return bad


if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        for cls in CLASSES:
            gen(cls, os.path.join(sys.argv[2], cls.replace(' ', '-')))
        sys.exit(0)
    cls, d, failed = sys.argv[2], sys.argv[3], 0
    for mode in MODES:
        problems = check(cls, mode, d)
        for p in problems[:30]:
            print('%s, %s: %s' % (cls, mode, p))
        if len(problems) > 30:
            print('%s, %s: ... and %d more' % (cls, mode, len(problems) - 30))
        failed |= bool(problems)
    sys.exit(failed)
PY
	"$PYTHON" "$CONF" gen "$BATS_FILE_TMPDIR/cases"
}

# conform CLASS: run the cases of CLASS through ppool in each of the seven
# modes, then check every record of every mode (so that a failure shows
# each mode it happens in).  jq reads the records too, but for the classes
# "surrogates" and "depth": jq 1.6 refuses some lone surrogate escapes and
# nesting past 256 levels, both valid JSON.
conform() {
	local cls=$1 mode input rc failed=0
	local d=$BATS_FILE_TMPDIR/cases/${1// /-}
	local -a opts args
	read -ra opts <"$d/opts"
	for mode in worker raw args dry-args cmd dry-cmd bare; do
		input=plain
		case $mode in
		worker) args=(-w "$(cat_worker)") ;;
		raw) args=(-o raw -w "$(cat_worker)") ;;
		args) args=(-j 4 -- printf '%s\n') ;;
		dry-args) args=(--dry-run -- printf '%s\n') ;;
		cmd) args=(-j 4) input=wrapped ;;
		dry-cmd) args=(--dry-run) input=wrapped ;;
		bare) args=() ;;
		esac
		rc=0
		timeout -k 5 60 "$PPOOL" "${opts[@]}" "${args[@]}" \
			<"$d/$input" >"$mode.out" 2>"$mode.err" || rc=$?
		echo "$rc" >"$mode.rc"
	done
	if [[ $cls != surrogates && $cls != depth ]] &&
		! cat {worker,args,dry-args,cmd,dry-cmd,bare}.out | jq -c . >/dev/null; then
		echo "$cls: jq cannot read the records"
		failed=1
	fi
	"$PYTHON" "$CONF" check "$cls" . || failed=1
	assert_no_process_left
	return "$failed"
}

@test "structure: arrays, objects and their separators; a misplaced token is invalid JSON at its byte" {
	conform structure
}

@test "white space: space, tab, CR and LF only; form feed, VT, NBSP and Unicode spaces are invalid" {
	conform whitespace
}

@test "literals: true, false and null, lower case and whole; anything else is invalid" {
	conform literals
}

@test "numbers: the RFC 8259 grammar; huge, tiny, -0 and big integers are kept as written" {
	conform numbers
}

@test "strings: every escape decodes; other escapes and raw control characters are invalid" {
	conform strings
}

@test "surrogates: pairs are one character; a lone surrogate is passed on, or U+FFFD, or refused in an object" {
	conform surrogates
}

@test "UTF-8: sequences of 1 to 4 bytes pass byte for byte; overlong, surrogate, out of range and cut ones are invalid" {
	conform utf8
}

@test "byte order mark: one before a value is invalid JSON at byte 1; one inside a string is text" {
	conform bom
}

@test "truncated documents are invalid, at the byte after their end or at the cut literal" {
	conform truncated
}

@test "extensions: comments, trailing commas, single quotes, NaN, hex are invalid JSON" {
	conform extensions
}

@test "two values on one line are invalid JSON at the second" {
	conform 'two values'
}

@test "top-level scalars are tasks: a worker gets them as written, a COMMAND as one argument" {
	conform scalars
}

@test "blank lines get no record and no seq; other space-like bytes are invalid; a last line without newline is a task" {
	conform blank
	# An input of blank lines only: no record, no failure, in worker mode,
	# command mode and with --dry-run.
	printf '\n \n\t\r\n\r\n' >blank
	local worker mode
	worker=$(cat_worker)
	for mode in -w --dry-run --; do
		case $mode in
		-w) run --separate-stderr timeout -k 5 60 "$PPOOL" -w "$worker" <blank ;;
		--) run --separate-stderr timeout -k 5 60 "$PPOOL" -- printf '%s\n' <blank ;;
		*) run --separate-stderr timeout -k 5 60 "$PPOOL" "$mode" <blank ;;
		esac
		assert_success
		assert_output ""
		assert_equal "$stderr" ""
	done
}

@test "NUL: a raw NUL byte is an error record; \\u0000 is valid JSON, a NUL in stdin, refused in an argument" {
	conform nul
}

@test "nesting: 512 levels pass, the 513th opening bracket is refused, however deep the line goes" {
	conform depth
}

@test "duplicate names outside ppool's fields are kept as written and ignored by command mode" {
	conform duplicates
}

@test "long lines: 100 kB strings and numbers, 20000 arguments, 800 kB of space; past --max-line an error record" {
	conform long
}

@test "numbers in ppool's fields: \"id\" is copied as written; \"timeout\" out of its range, huge or tiny, is refused" {
	printf '%s\n' \
		'{"cmd":["true"],"id":123456789012345678901234567890}' \
		'{"cmd":["true"],"id":1e999}' \
		'{"cmd":["true"],"id":-0.0E-0}' \
		'{"cmd":["true"],"timeout":1E1}' \
		'{"cmd":["true"],"timeout":1e999}' \
		'{"cmd":["true"],"timeout":-1e999}' \
		'{"cmd":["true"],"timeout":1e-999}' \
		'{"cmd":["true"],"timeout":-0}' \
		'{"cmd":["true"],"timeout":123456789012345678901234567890}' >in
	run --separate-stderr timeout -k 5 60 "$PPOOL" -j 2 <in
	assert_equal "$status" 5
	assert_equal "$stderr" ""
	assert_records_valid
	assert_seqs_in_order 9
	# Byte for byte: jq would print these numbers its own way.
	[[ ${lines[0]} == '{"seq":1,"id":123456789012345678901234567890,"ok":true,'* ]] ||
		fail "not the bytes of the task: $output"
	[[ ${lines[1]} == '{"seq":2,"id":1e999,"ok":true,'* ]] ||
		fail "not the bytes of the task: $output"
	[[ ${lines[2]} == '{"seq":3,"id":-0.0E-0,"ok":true,'* ]] ||
		fail "not the bytes of the task: $output"
	assert_equal "$(jqo 'select(.seq >= 4) | [.seq, .ok, .error // "-"] | @tsv')" "$(printf '%s\n' \
		'4	true	-' \
		'5	false	"timeout" must be a number of seconds above 0, at most 1000000000' \
		'6	false	"timeout" must be a number of seconds above 0, at most 1000000000' \
		'7	false	"timeout" must be a number of seconds above 0, at most 1000000000' \
		'8	false	"timeout" must be a number of seconds above 0, at most 1000000000' \
		'9	false	"timeout" must be a number of seconds above 0, at most 1000000000')"
	# In worker mode too, "id" is the user's bytes.
	run --separate-stderr timeout -k 5 60 "$PPOOL" -w "$(cat_worker)" <<<'{"id":1e999,"n":-0}'
	assert_success
	[[ $output == '{"seq":1,"id":1e999,"ok":true,"result":{"id":1e999,"n":-0},"worker":'* ]] ||
		fail "not the bytes of the task: $output"
}
