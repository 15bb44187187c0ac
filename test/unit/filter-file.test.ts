import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { expandRules } from '../../src/config/expand';
import { parseFilterText, readFilterFile } from '../../src/config/filter-file';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected an error');
}

describe('filter file parsing', () => {
  it('reads id;expr lines, skipping blanks and comments', () => {
    const rules = parseFilterText('# comment\n\narp-req;arp[6:2] == 1\n  \n  # indented comment\ndns; udp port 53 \n', 'f');
    assert.deepEqual(rules, [
      { id: 'arp-req', text: 'arp[6:2] == 1', where: 'f:3' },
      { id: 'dns', text: 'udp port 53', where: 'f:6' },
    ]);
  });
  it('keeps the whole last line when it has no newline', () => {
    assert.deepEqual(parseFilterText('a;arp\nb;icmp6', 'f').map((r) => r.text), ['arp', 'icmp6']);
  });
  it('accepts CRLF line ends', () => {
    assert.deepEqual(parseFilterText('a;arp\r\nb;ip\r\n', 'f').map((r) => r.text), ['arp', 'ip']);
  });
  it('keeps ids with label syntax (the original\'s extended example)', () => {
    const [rule] = parseFilterText('type="arp",subtype="request";arp[6:2] == 1\n', 'f');
    assert.equal(rule.id, 'type="arp",subtype="request"');
  });
  it('reports a missing semicolon with file:line', () => {
    assert.equal(errorOf(() => parseFilterText('a;arp\njust text\n', 'x.filters')), "x.filters:2: missing ';' between rule id and expression");
  });
  it('reports an empty id', () => {
    assert.equal(errorOf(() => parseFilterText(';arp\n', 'x')), 'x:1: empty rule id');
  });
  it('reports an empty expression', () => {
    assert.equal(errorOf(() => parseFilterText('a; \n', 'x')), "x:1: rule 'a' has an empty expression");
  });
  it('reports an unreadable file', () => {
    assert.match(errorOf(() => readFilterFile('/nonexistent/rules')), /^\/nonexistent\/rules: cannot read filter file \(ENOENT\)$/);
  });
  it('reads a real file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-'));
    writeFileSync(join(dir, 'r'), 'a;arp');
    assert.equal(readFilterFile(join(dir, 'r'))[0].where, `${join(dir, 'r')}:1`);
  });
});

describe('expansion', () => {
  const parse = (text: string) => parseFilterText(text, 'f');
  it('replaces $MAC with the parenthesised MAC', () => {
    const [rule] = expandRules(parse('me;arp and ether src $MAC or ether dst $MAC\n'), '02:00:00:00:00:01');
    assert.equal(rule.expr, 'arp and ether src (02:00:00:00:00:01) or ether dst (02:00:00:00:00:01)');
  });
  it('needs a MAC when $MAC is used', () => {
    assert.match(errorOf(() => expandRules(parse('a;ip\nme;ether src $MAC\n'), undefined)), /^f:2: rule 'me' uses \$MAC/);
  });
  it('does not need a MAC when $MAC is unused', () => {
    assert.equal(expandRules(parse('a;ip\n'), undefined)[0].expr, 'ip');
  });
  it('expands ${id} with the earlier rule, nested', () => {
    const rules = expandRules(parse('a;arp\nb;${a} or ip\nc;not ${b} and ether src $MAC\n'), '0:1:2:3:4:5');
    assert.deepEqual(rules.map((r) => r.expr), ['arp', '(arp) or ip', 'not ((arp) or ip) and ether src (0:1:2:3:4:5)']);
  });
  it('refuses an unknown or later ${id}', () => {
    assert.equal(errorOf(() => expandRules(parse('a;${b}\nb;ip\n'), undefined)),
      "f:1: rule 'a' refers to unknown rule '${b}' (only earlier rules can be used)");
  });
  it('refuses a rule referring to itself', () => {
    assert.match(errorOf(() => expandRules(parse('a;${a}\n'), undefined)), /^f:1: rule 'a' refers to unknown rule/);
  });
  it('refuses a duplicate id', () => {
    assert.equal(errorOf(() => expandRules(parse('a;ip\nb;arp\na;ip6\n'), undefined)), "f:3: duplicate rule id 'a'");
  });
});
