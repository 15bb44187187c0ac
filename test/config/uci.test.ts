/**
 * UCI parser. The `*.show` files beside the fixtures are the output of
 * `uci -c <dir> -X show <file>` from libuci (openwrt/uci at 66127cd, built
 * from source for this purpose): the reference, not our code. The parser's
 * result is printed in the same format and must match line for line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anonymousName, parseUci, readUciFile, type UciPackage } from '../../src/config/uci';
import { ConfigError } from '../../src/config/errors';

const root = join(__dirname, '..', '..', '..');
const fixtures = join(root, 'test', 'config', 'fixtures');

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The package as `uci -X show` prints it. */
function show(pkg: UciPackage, name: string): string {
  const lines: string[] = [];
  for (const section of pkg.sections) {
    lines.push(`${name}.${section.name}=${section.type}`);
    for (const [key, option] of section.options) {
      const value = option.kind === 'option' ? quote(option.value) : option.items.map((i) => quote(i.value)).join(' ');
      lines.push(`${name}.${section.name}.${key}=${value}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

for (const name of ['network', 'firewall', 'tricky']) {
  test(`${name}: same sections, names, options and values as libuci`, () => {
    const pkg = readUciFile(join(fixtures, name));
    assert.equal(show(pkg, name), readFileSync(join(fixtures, `${name}.show`), 'utf8'));
  });
}

test('positions: sections, options and list items carry file:line', () => {
  const file = join(fixtures, 'firewall');
  const pkg = readUciFile(file);
  const icmp = pkg.sections[5];
  assert.equal(icmp.type, 'rule');
  assert.equal(icmp.where, `${file}:40`);
  const types = icmp.options.get('icmp_type');
  assert.ok(types !== undefined && types.kind === 'list');
  assert.deepEqual(types.items.map((i) => i.where), [`${file}:44`, `${file}:45`, `${file}:46`]);
  const multi = parseUci("config a 'b'\n\toption x 'one\ntwo'\n\toption y z\n", 'f');
  assert.equal(multi.sections[0].options.get('x')?.where, 'f:2');
  assert.equal(multi.sections[0].options.get('y')?.where, 'f:4');
});

test('anonymous section names follow libuci (counter of all sections + hash of the type)', () => {
  // cfg01862a was printed by libuci for the first section of type bpfcountd (tricky.show).
  assert.equal(anonymousName(1, 'bpfcountd'), 'cfg01862a');
  assert.equal(anonymousName(3, 'bpfcountd'), 'cfg03862a');
  // More than 255 sections: the counter just grows (printf %02x).
  assert.equal(anonymousName(256, 'bpfcountd'), 'cfg100862a');
  const pkg = parseUci("config bpfcountd\nconfig bpfcountd 'x'\nconfig bpfcountd ''\n", 'f');
  assert.deepEqual(pkg.sections.map((s) => [s.name, s.anonymous]), [['cfg01862a', true], ['x', false], ['cfg03862a', true]]);
});

test('empty input, comments only and CRLF files parse', () => {
  assert.deepEqual(parseUci('', 'f').sections, []);
  assert.deepEqual(parseUci('\n\n# only a comment\n   # indented\n', 'f').sections, []);
  const pkg = parseUci("config a 'b'\r\n\toption c 'd'\r\n", 'f');
  assert.equal(pkg.sections[0].name, 'b');
  assert.deepEqual(pkg.sections[0].options.get('c'), { kind: 'option', value: 'd', where: 'f:2' });
});

test('a backslash at the very end of the file is dropped', () => {
  const pkg = parseUci('config a b\n\toption c d\\', 'f');
  const c = pkg.sections[0].options.get('c');
  assert.ok(c !== undefined && c.kind === 'option');
  assert.equal(c.value, 'd');
});

/** Every malformed case: [text, file:line expected, reason pattern]. libuci refuses each too, except where noted. */
const errors: [string, string, RegExp][] = [
  ["option a 'b'\n", 'f:1', /before the first 'config' section/],
  ["\n\nlist a 'b'\n", 'f:3', /before the first 'config' section/],
  ["config a b\n\toption x 'never closed\n\n", 'f:2', /unterminated '/],
  ['config a b\n\n\toption x "never closed\n', 'f:3', /unterminated "/],
  ["config a b\n\toption x \"esc\\\"\n", 'f:2', /unterminated "/],
  ['config a b\n\tfoo x y\n', 'f:2', /invalid command 'foo'/],
  ["config a b\n\t'option' x y\n", 'f:2', /invalid command/],
  ['config\n', 'f:1', /missing section type/],
  ["config '' name\n", 'f:1', /empty section type/],
  ["config 'a b' name\n", 'f:1', /invalid character in section type/],
  ['config t na-me\n', 'f:1', /invalid character in section name 'na-me'/],
  ['config t na.me\n', 'f:1', /invalid character in section name/],
  ['config t name extra\n', 'f:1', /too many arguments \('extra'\)/],
  ['config a b\nconfig c b\n', 'f:2', /section 'b' declared again with type 'c' \(was 'a' at f:1\)/],
  ['config a b\n\toption\n', 'f:2', /missing option name/],
  ['config a b\n\toption x\n', 'f:2', /missing value for 'x'/], // libuci: ignored
  ['config a b\n\tlist x\n', 'f:2', /missing value for 'x'/], // libuci: adds ''
  ["config a b\n\toption '' v\n", 'f:2', /empty option name/],
  ['config a b\n\toption my-opt v\n', 'f:2', /invalid character in option name 'my-opt'/],
  ['config a b\n\toption \u00e4 v\n', 'f:2', /invalid character in option name/],
  ['config a b\n\toption x v w\n', 'f:2', /too many arguments \('w'\); quote values/],
  ["config a b\n\n\toption x 'one\ntwo' three\n", 'f:4', /too many arguments \('three'\)/],
  ['config a b\n\tlist rule arp;arp[6:2] == 1\n', 'f:2', /unquoted ';'/], // libuci: a command separator
  ['config a b; option x y\n', 'f:1', /unquoted ';'/],
  ['package\n', 'f:1', /missing package name/],
  ["package 'p k'\n", 'f:1', /invalid character in package name/],
  ['package p q\n', 'f:1', /too many arguments/],
];

for (const [text, where, reason] of errors) {
  test(`error at ${where}: ${JSON.stringify(text)}`, () => {
    assert.throws(
      () => parseUci(text, 'f'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.where, where);
        assert.match(err.reason, reason);
        assert.equal(err.message, `${err.where}: ${err.reason}`);
        return true;
      },
    );
  });
}

test('accepted forms libuci accepts: package with dash, one-letter commands, quoted type chars', () => {
  const pkg = parseUci("package my-pkg\nc 'a.b-c' n\no x y\nl z 1\n", 'f');
  assert.equal(pkg.sections[0].type, 'a.b-c');
  assert.deepEqual([...pkg.sections[0].options.keys()], ['x', 'z']);
});

test('an unreadable file is a ConfigError naming the file', () => {
  const missing = join(fixtures, 'does-not-exist');
  assert.throws(() => readUciFile(missing), (err: unknown) => err instanceof ConfigError && err.where === missing && /cannot read UCI file \(ENOENT\)/.test(err.reason));
});
