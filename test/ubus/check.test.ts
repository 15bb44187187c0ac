/**
 * The `check` method's judgement with the real parser and the real libpcap
 * (an empty capture file per link type, as the daemon asks it): each line gets
 * the verdict a reload would give it. Expected messages are libpcap's and the
 * config reader's wording, matched loosely where libpcap versions differ.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExpressionChecker } from '../../src/capture/validate';
import { checkRules, CheckEnvironment } from '../../src/service/check';
import { Supervisor } from '../../src/service/supervisor';
import { ConfigError } from '../../src/config/errors';
import { ServedInstance, type ServedSpec } from '../../src/service/served-instance';

function environment(checker: ExpressionChecker, seen: { linkType?: number } = {}): CheckEnvironment {
  return {
    libpcap: (expr, linkType) => { seen.linkType = linkType; return checker.check(expr, linkType); },
    linkType: (ifname) => (ifname === 'tun0' ? 12 : ifname === 'eth0' ? 1 : undefined),
    mac: (ifname) => (ifname === 'eth0' ? '02:00:00:00:00:01' : undefined),
  };
}

test('check: every line gets the verdict a reload would give it', () => {
  const checker = new ExpressionChecker();
  const reply = checkRules({
    ifname: 'eth0',
    rules: [
      'arp;arp',
      'bad;ip[',
      'no semicolon',
      ';arp',
      'empty;  ',
      'arp;ip6',
      'both;${arp} or ip6',
      'ghost;${nope}',
      'mine;ether src $MAC',
      'in;inbound',
      'none;ip and not ip',
      'twice;ip and and tcp',
      'port;tcp port 99999',
    ],
  }, environment(checker));
  const rules = reply.rules ?? [];
  assert.equal(rules.length, 13, 'one verdict per line');
  assert.deepEqual(rules[0], { id: 'arp', ok: true, engine: 'javascript' });
  assert.equal(rules[1].id, 'bad');
  assert.equal(rules[1].ok, false);
  assert.match(rules[1].error ?? '', /syntax error/);
  assert.equal(rules[1].detail, 'syntax error at the end of the expression', 'the parser says where it stopped');
  assert.deepEqual(rules[2], { id: '', ok: false, error: "missing ';' between rule id and expression" });
  assert.deepEqual(rules[3], { id: '', ok: false, error: 'empty rule id' });
  assert.deepEqual(rules[4], { id: 'empty', ok: false, error: "rule 'empty' has an empty expression" });
  assert.deepEqual(rules[5], { id: 'arp', ok: false, error: "duplicate rule id 'arp'" });
  assert.equal(rules[6].ok, true, '${arp} names an accepted earlier rule');
  assert.deepEqual(rules[7], { id: 'ghost', ok: false, error: "rule 'ghost' refers to unknown rule '${nope}' (only earlier rules can be used)" });
  assert.equal(rules[8].ok, true, '$MAC is expanded with the interface MAC');
  assert.equal(rules[9].ok, true, 'inbound: only a live capture can judge it');
  assert.equal(rules[10].ok, true, 'a rule that matches nothing counts 0, it is no error');
  assert.equal(rules[11].ok, false);
  assert.equal(rules[11].detail, 'syntax error at character 8: and tcp');
  assert.deepEqual(rules[12], { id: 'port', ok: false, error: 'illegal port number 99999 > 65535' }, 'no detail that repeats the error');
  assert.equal(reply.prefilter, undefined, 'no prefilter asked, none judged');
});

test('check: the link type comes from the interface (Ethernet when it is missing); the prefilter is judged too', () => {
  const checker = new ExpressionChecker();
  const seen: { linkType?: number } = {};
  // On a tun device (bare IP) there is no Ethernet header: libpcap refuses `ether` tests.
  let reply = checkRules({ ifname: 'tun0', rules: ['e;ether host 02:00:00:00:00:01'] }, environment(checker, seen));
  assert.equal(seen.linkType, 12);
  assert.equal(reply.rules?.[0].ok, false);
  assert.match(reply.rules?.[0].error ?? '', /ether/i);
  reply = checkRules({ ifname: 'wlan9', rules: ['e;ether host 02:00:00:00:00:01'], prefilter: 'inbound' }, environment(checker, seen));
  assert.equal(seen.linkType, 1, 'a missing interface is judged as Ethernet');
  assert.equal(reply.rules?.[0].ok, true);
  assert.deepEqual(reply.prefilter, { ok: true }, 'inbound is live-only, not refused');
  reply = checkRules({ rules: [], prefilter: 'tcp port 70000' }, environment(checker));
  assert.equal(reply.prefilter?.ok, false);
  assert.match(reply.prefilter?.error ?? '', /port/);
  assert.deepEqual(reply.rules, []);
});

test('check without rules: the saved configuration as a reload reads it, quietly', () => {
  const logs: string[] = [];
  let specs: ServedSpec[] = [];
  let broken: Error | undefined;
  const supervisor = new Supervisor({
    loadSpecs: (warn = (m) => logs.push(m)) => {
      warn('unknown option x');
      if (broken) throw broken;
      return specs;
    },
    log: (m) => logs.push(m),
    hotplug: true,
    onFatal: (err) => { throw err; },
  });
  const spec = (rules: string[]): ServedSpec => ({
    name: 'lo_in', ifname: 'lo', prefilter: '', bufferSize: 65536, socketPath: '/nonexistent/lo_in.sock',
    rules: rules.map((line, i) => ({ id: line.split(';')[0], text: line.split(';')[1], where: `/etc/config/bpfcountd:${10 + i}` })),
  });
  try {
    specs = [spec(['arp;arp', 'ip;ip'])];
    assert.deepEqual(supervisor.check({}), { config: { ok: true } });
    specs = [spec(['arp;arp', 'x;ip['])];
    const bad = supervisor.check({});
    assert.equal(bad.config?.ok, false);
    assert.match(bad.config?.error ?? '', /^\/etc\/config\/bpfcountd:11: rule 'x': .*syntax error/);
    broken = new ConfigError('/etc/config/bpfcountd:3', "section 'lo_in' has no 'option ifname'");
    assert.deepEqual(supervisor.check({}), { config: { ok: false, error: "/etc/config/bpfcountd:3: section 'lo_in' has no 'option ifname'" } });
    assert.deepEqual(logs, [], 'a check writes nothing to the log');
  } finally {
    supervisor.stop();
  }
});

test('stats: a section whose capture cannot start says why (as the log does); a missing interface is only waiting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-check-'));
  const checker = new ExpressionChecker();
  const logs: string[] = [];
  const instance = (ifname: string): ServedInstance => new ServedInstance({
    name: 'x', ifname, prefilter: '', bufferSize: 65536, socketPath: join(dir, `${ifname}.sock`),
    rules: [{ id: 'ok', text: 'arp', where: 'f:1' }, { id: 'bad', text: 'ip and and tcp', where: 'f:2' }],
  }, { checker, log: (m) => logs.push(m), hotplug: true, onFatal: (err) => { throw err; } });
  const lo = instance('lo');
  const gone = instance('nosuch0');
  try {
    await lo.start();
    await gone.start();
    const s = lo.stats();
    assert.equal(s.state, 'waiting');
    // As root libpcap refuses the rule; without root it cannot open lo at all. Either way: the logged reason.
    assert.ok(s.error === "f:2: rule 'bad': can't parse filter expression: syntax error" || /^lo: cannot capture: /.test(s.error ?? ''), s.error);
    assert.deepEqual(logs, [`x: not started: ${s.error}`]);
    assert.deepEqual(s.rules.map((r) => [r.id, r.packets]), [['ok', 0], ['bad', 0]]);
    const w = gone.stats();
    assert.equal(w.state, 'waiting');
    assert.equal(w.error, undefined, 'waiting for an interface is no error');
  } finally {
    lo.stop();
    gone.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
