/**
 * The daemon needs root only for CAP_NET_RAW: run as `nobody` with that one
 * capability (as procd's ujail or setpriv can give it), it opens its capture,
 * counts a replayed capture exactly as libpcap does, and holds no other
 * capability.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Daemon, daemonArgv, waitForSettledCounts, waitForSocket } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, ruleFileText, type RuleDef } from '../support/live-count';
import { createLink, destroyLink, recvMac, replay } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';

const CAP_NET_RAW = 13;
const RULES: readonly RuleDef[] = [
  { id: 'arp', expr: 'arp' },
  { id: 'udp', expr: 'udp' },
  { id: 'bcast', expr: 'ether broadcast' },
  { id: ALL_ID, expr: 'greater 0' },
];

test('as nobody with only CAP_NET_RAW: counts exactly, holds no other capability', async (t) => {
  requireLiveEnvironment();
  ensureOracle();
  assert.equal(spawnSync('setpriv', ['--version']).status, 0, 'setpriv (util-linux) is needed');
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-nobody-'));
  chmodSync(dir, 0o777); // the socket is created by nobody
  const link = createLink();
  let daemon: Daemon | undefined;
  t.after(async () => {
    await daemon?.stop('SIGKILL', 5000).catch(() => undefined);
    destroyLink(link);
    rmSync(dir, { recursive: true, force: true });
  });
  const filterFile = join(dir, 'rules.filters');
  writeFileSync(filterFile, ruleFileText(RULES));
  chmodSync(filterFile, 0o644);
  const socketPath = join(dir, 'counters.sock');
  const caps = '-all,+net_raw';
  const child = spawn('ip', ['netns', 'exec', link.recvNs, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
    `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=${caps}`, '--',
    process.execPath, ...daemonArgv(link.recvIf, { filterFile, socketPath })], { stdio: ['ignore', 'pipe', 'pipe'] });
  daemon = new Daemon(child, socketPath);
  await waitForSocket(daemon);

  const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, 'runs as nobody');
  assert.equal(BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)?.[1]}`), 1n << BigInt(CAP_NET_RAW), 'effective capabilities: CAP_NET_RAW alone');
  assert.equal(BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(status)?.[1]}`), 1n << BigInt(CAP_NET_RAW), 'nothing else can be regained');

  const capture = join(TEST_PCAPS, 'eapon1.pcap');
  const expected = expectedCounts(capture, RULES, recvMac(link));
  const sent = replay(link, capture);
  const lines = await waitForSettledCounts(daemon, (l) => (l.find((x) => x.id === ALL_ID)?.packets ?? 0) >= sent);
  assert.deepEqual(formatLines(lines), formatLines(RULES.map((r, i) => ({ id: r.id, ...expected[i] }))), daemon.describe());
  assert.deepEqual(await daemon.stop('SIGTERM'), { code: 0, signal: null }, daemon.describe());
});
