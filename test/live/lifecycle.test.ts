/**
 * The daemon's life as a service manager and its clients see it: socket
 * permissions, stale sockets, signals, clients that never read, and an
 * interface that disappears under it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ORIGINAL_EXAMPLE_RULES } from './capture-rules';
import { sleep, startDaemon, waitForSocket, type Daemon } from '../support/daemon';
import { formatLines, PROBE_ID, probeFrame, ruleFileText, runLiveCase, withHarnessRules } from '../support/live-count';
import { createLink, deleteRecvInterface, destroyLink, replay, type VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import { connectIdle, readCounts } from '../support/socket-client';
import { makeStaleSocket } from '../support/stale-socket';

describe('live: daemon lifecycle and socket behaviour', () => {
  let link: VethLink | undefined;
  let dir = '';
  const daemons: Daemon[] = [];
  const start = (args: { filterFile: string; socketPath: string; iface?: string }): Daemon => {
    assert.ok(link);
    const d = startDaemon(link, { ...args, bufferBytes: 2 * 1024 * 1024 });
    daemons.push(d);
    return d;
  };
  const filterFile = (): string => {
    const path = join(dir, `rules-${daemons.length}.filter`);
    writeFileSync(path, ruleFileText(withHarnessRules(ORIGINAL_EXAMPLE_RULES)));
    return path;
  };

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    link = createLink();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-life-'));
    // Other users must be able to reach sockets in here (the permission test).
    chmodSync(dir, 0o755);
  });
  after(async () => {
    for (const d of daemons) await d.kill();
    if (link) destroyLink(link);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal}: exit 0 and the socket file is removed`, async () => {
      const socketPath = join(dir, `${signal}.sock`);
      const d = start({ filterFile: filterFile(), socketPath });
      await waitForSocket(d);
      assert.ok(existsSync(socketPath));
      const exit = await d.stop(signal);
      assert.deepEqual(exit, { code: 0, signal: null }, d.describe());
      assert.equal(existsSync(socketPath), false, 'socket file left behind');
    });
  }

  test('a stale socket file at start is replaced and answers', async () => {
    const socketPath = join(dir, 'stale.sock');
    makeStaleSocket(socketPath);
    const d = start({ filterFile: filterFile(), socketPath });
    const lines = await waitForSocket(d);
    assert.deepEqual(lines.map((l) => l.id), withHarnessRules(ORIGINAL_EXAMPLE_RULES).map((r) => r.id));
    // (A stale file refuses connections: the answer above proves it was replaced.)
    assert.deepEqual(await d.stop(), { code: 0, signal: null }, d.describe());
  });

  test('the socket is world read/write (0666, like the original) and another user can read it', async () => {
    const socketPath = join(dir, 'mode.sock');
    const d = start({ filterFile: filterFile(), socketPath });
    await waitForSocket(d);
    assert.equal(statSync(socketPath).mode & 0o777, 0o666, `mode is ${(statSync(socketPath).mode & 0o777).toString(8)}`);
    // As user nobody, the way an unprivileged respondd/LuCI reader would.
    const reader = `const s=require('node:net').connect(process.argv[1]);let t='';s.on('data',c=>t+=c);s.on('end',()=>process.stdout.write(t));s.on('error',e=>{console.error(e.message);process.exit(3)});`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', reader, socketPath], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `unprivileged read failed: ${r.stderr}`);
    assert.match(r.stdout, /^arp-req:0:0\n/);
    assert.deepEqual(await d.stop(), { code: 0, signal: null }, d.describe());
  });

  test('clients that connect and never read stall neither counting nor other clients', async () => {
    assert.ok(link);
    // Few rules with very long ids: each answer (~480 KB) is larger than the socket buffers.
    const longRules = Array.from({ length: 12 }, (_, i) => ({
      id: `idle-${String(i).padStart(2, '0')}-${'x'.repeat(40_000)}`,
      expr: ['arp', 'ip', 'udp port 137', 'ether broadcast', 'ether proto 0x888e'][i % 5],
    }));
    const idle: Socket[] = [];
    try {
      const r = await runLiveCase(link, {
        capture: join(TEST_PCAPS, 'eapon1.pcap'),
        rules: [...ORIGINAL_EXAMPLE_RULES, ...longRules],
        onSocketReady: async (socketPath) => {
          for (let i = 0; i < 3; i++) idle.push(await connectIdle(socketPath));
          // Let the daemon try to write its answers to them first.
          await sleep(200);
        },
      });
      assert.equal(idle.filter((s) => s.destroyed).length, 0, 'an idle client was gone before the run ended');
      assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon vs libpcap; stderr: ${r.daemonStderr}`);
      assert.deepEqual(r.exit, { code: 0, signal: null }, 'SIGTERM with idle clients connected must still exit 0');
    } finally {
      for (const s of idle) s.destroy();
    }
  });

  test('a missing interface at start: non-zero exit and a message naming it', async () => {
    const d = start({ filterFile: filterFile(), socketPath: join(dir, 'missing.sock'), iface: 'nosuchif0' });
    const exit = await d.waitExit(10_000);
    assert.ok(exit.code !== null && exit.code !== 0, `expected a non-zero exit: ${d.describe()}`);
    assert.match(d.log, /nosuchif0/, d.describe());
    assert.equal(existsSync(join(dir, 'missing.sock')), false, 'no socket for a daemon that could not start');
  });

  test('an invalid rule at start: non-zero exit and a message with file:line', async () => {
    const file = join(dir, 'invalid.filter');
    writeFileSync(file, 'arp-req;arp[6:2] == 1\nbroken;ip and and tcp\n');
    const d = start({ filterFile: file, socketPath: join(dir, 'invalid.sock') });
    const exit = await d.waitExit(10_000);
    assert.ok(exit.code !== null && exit.code !== 0, `expected a non-zero exit: ${d.describe()}`);
    assert.ok(d.log.includes(`${file}:2`), `message must point at ${file}:2: ${d.describe()}`);
  });

  test('the interface vanishing under the daemon: non-zero exit and a message naming it', async () => {
    assert.ok(link);
    const socketPath = join(dir, 'vanish.sock');
    const d = start({ filterFile: filterFile(), socketPath });
    await waitForSocket(d);
    const probe = join(dir, 'probe.pcap');
    writeEthernetPcap(probe, [probeFrame()]);
    for (let i = 0; i < 50; i++) {
      replay(link, probe);
      if ((await readCounts(socketPath)).some((l) => l.id === PROBE_ID && l.packets > 0)) break;
      await sleep(100);
    }
    const iface = link.recvIf;
    deleteRecvInterface(link);
    const exit = await d.waitExit(15_000);
    assert.notEqual(exit.code, 0, `daemon must fail when its interface disappears: ${d.describe()}`);
    assert.ok(exit.code !== null, `daemon must exit, not die of a signal: ${d.describe()}`);
    assert.match(d.log, new RegExp(iface), `the message must name the interface: ${d.describe()}`);
    // This test removes the veth: it must be the last one using `link`.
    destroyLink(link);
    link = undefined;
  });
});
