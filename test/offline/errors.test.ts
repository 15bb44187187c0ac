/** Bad input: one clear line on stderr naming file:line or the rule, a non-zero exit, nothing counted. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_PCAPS } from '../support/paths';
import { runDaemon } from './helpers';

const CAPTURE = join(TEST_PCAPS, 'dns_tcp.pcap');
const dir = mkdtempSync(join(tmpdir(), 'bpfc-err-'));

function filterFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function assertOneLineError(args: string[], expected: RegExp, status = 1): void {
  const run = runDaemon(args);
  assert.equal(run.status, status, run.stderr);
  assert.equal(run.stdout, '', 'nothing counted');
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], expected);
}

describe('errors', () => {
  it('a rule libpcap refuses names the rule and libpcap\'s message', () => {
    const f = filterFile('syntax.filters', 'ok;ip\nbroken;ip or\n');
    assertOneLineError(['-r', CAPTURE, '-f', f], new RegExp(`^${f}:2: rule 'broken': can't parse filter expression: syntax error$`));
  });
  it('an unknown name', () => {
    const f = filterFile('name.filters', 'h;host no-such-host.invalid\n');
    assertOneLineError(['-r', CAPTURE, '-f', f], new RegExp(`^${f}:1: rule 'h': .*unknown host 'no-such-host.invalid'`));
  });
  it('a missing semicolon', () => {
    const f = filterFile('semi.filters', 'ok;ip\n\nnosemicolon\n');
    assertOneLineError(['-r', CAPTURE, '-f', f], new RegExp(`^${f}:3: missing ';'`));
  });
  it('a duplicate id', () => {
    const f = filterFile('dup.filters', 'a;ip\na;ip6');
    assertOneLineError(['-r', CAPTURE, '-f', f], new RegExp(`^${f}:2: duplicate rule id 'a'$`));
  });
  it('an unknown ${id}', () => {
    const f = filterFile('ref.filters', 'a;${zz}');
    assertOneLineError(['-r', CAPTURE, '-f', f], new RegExp(`^${f}:1: rule 'a' refers to unknown rule`));
  });
  it('$MAC without interface or --mac', () => {
    const f = filterFile('mac.filters', 'a;ether src $MAC');
    assertOneLineError(['-r', CAPTURE, '-f', f], /uses \$MAC but no interface MAC is known/);
  });
  it('an unreadable filter file', () => {
    assertOneLineError(['-r', CAPTURE, '-f', join(dir, 'missing')], /missing: cannot read filter file \(ENOENT\)$/);
  });
  it('a bad prefilter', () => {
    const f = filterFile('fine.filters', 'a;ip');
    assertOneLineError(['-r', CAPTURE, '-f', f, '-F', 'udp and'], /^prefilter: 'udp and': can't parse filter expression/);
  });
  it('a missing capture file', () => {
    const f = filterFile('fine2.filters', 'a;ip');
    assertOneLineError(['-r', join(dir, 'none.pcap'), '-f', f], /none\.pcap: cannot capture: .*No such file/);
  });
  it('a missing interface', () => {
    const f = filterFile('fine3.filters', 'a;ip');
    assertOneLineError(['-i', 'nosuchif9', '-f', f], /^nosuchif9: no such network interface$/);
  });
  it('a usage error exits 2', () => {
    assertOneLineError(['-r', CAPTURE], /missing -f <filterfile>/, 2);
  });
  it('--check is non-zero for an invalid rule and zero for valid ones', () => {
    const bad = filterFile('check-bad.filters', 'a;ip\nb;tcp port\n');
    assert.equal(runDaemon(['-r', CAPTURE, '-f', bad, '--check']).status, 1);
    const good = filterFile('check-good.filters', 'a;ip\nb;tcp port 53\n');
    const run = runDaemon(['-r', CAPTURE, '-f', good, '--check']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /rule b: tcp port 53\n\s+evaluated by: /);
  });
});
