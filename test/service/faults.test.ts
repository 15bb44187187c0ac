/**
 * Faults a router's daemon meets over months, one after the other on one
 * running daemon: a SIGHUP storm, a configuration made invalid while running,
 * the runtime directory removed (sockets and pid file with it), the socket
 * file deleted by someone else, the interface going down and up. After each
 * the daemon still runs, logs one line for the event, serves again by itself
 * and its counters are exactly what was sent so far (the libpcap oracle's
 * counts of the replayed frames), never reset.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, type RuleDef } from '../support/live-count';
import { replayAsync, run, type VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, interfaceMac, NO_UBUS, settledCounts, startServiceDaemon, uciText,
  waitForSockets, waitForLog, writeAtomically, type ServiceNet,
} from '../support/service';
import { readCounts } from '../support/socket-client';

const RULES: readonly RuleDef[] = [
  { id: 'arp', expr: 'arp' },
  { id: 'udp', expr: 'udp' },
  { id: 'bcast', expr: 'ether broadcast' },
  { id: 'mine', expr: 'ether dst $MAC' },
  { id: ALL_ID, expr: 'greater 0' },
];
const CAPTURE = join(TEST_PCAPS, 'eapon1.pcap');

describe('service: faults on a running daemon', () => {
  let net: ServiceNet | undefined;
  let daemon: Daemon | undefined;
  let dir = '';
  let link: VethLink;
  let runDir = '';
  let socket = '';
  let pidFile = '';
  let config = '';
  /** What one replay of the capture adds to each rule, in RULES order (libpcap's counts). */
  let perReplay: { packets: number; bytes: number }[] = [];
  let replays = 0;

  const expected = (): string[] => formatLines(RULES.map((r, i) => ({ id: r.id, packets: replays * perReplay[i].packets, bytes: replays * perReplay[i].bytes })));
  const d = (): Daemon => daemon as Daemon;

  async function replayAndCheck(what: string): Promise<void> {
    await replayAsync(link, CAPTURE);
    replays++;
    const lines = await settledCounts(d(), socket, replays * perReplay[RULES.length - 1].packets);
    assert.deepEqual(formatLines(lines), expected(), `${what}: counters (left) vs what was sent (right). ${d().describe()}`);
  }

  async function countsKept(what: string): Promise<void> {
    assert.equal(d().hasExited, false, `${what}: the daemon exited. ${d().describe()}`);
    assert.deepEqual(formatLines(await readCounts(socket)), expected(), `${what}: counters kept`);
  }

  before(async () => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfcountd-faults-'));
    runDir = join(dir, 'run');
    mkdirSync(runDir);
    socket = join(runDir, 'lan.sock');
    pidFile = join(runDir, 'bpfcountd.pid');
    config = join(dir, 'bpfcountd');
    net = createServiceNet();
    // The interface gets the capture's busiest unicast MAC, so that the $MAC rule counts too.
    link = addVeth(net, 'lan0', 'peer0', busiestUnicastMac(readClassicPcap(CAPTURE)) ?? '02:fa:17:00:00:01');
    const mac = interfaceMac(link);
    perReplay = expectedCounts(CAPTURE, RULES, mac);
    assert.ok(perReplay.every((c) => c.packets > 0), `every rule counts something in the capture: ${JSON.stringify(perReplay)}`);
    writeAtomically(config, uciText([{ name: 'lan', options: { ifname: 'lan0', socket, buffersize: '1048576' }, rules: RULES }]));
    daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(runDir, 'runtime'), '--pid-file', pidFile, NO_UBUS], socket);
    await waitForSockets(d(), [socket]);
    await replayAndCheck('start');
  });

  after(async () => {
    await daemon?.stop('SIGKILL', 5000).catch(() => undefined);
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a SIGHUP storm (100 in a second): still counting, counters kept', async () => {
    for (let i = 0; i < 100; i++) {
      process.kill(d().pid, 'SIGHUP');
      await sleep(10);
    }
    await sleep(1500);
    await countsKept('after 100 SIGHUPs');
    await replayAndCheck('after the storm');
  });

  test('a configuration made invalid while running: reload refused in one line, the running rules keep counting', async () => {
    const good = readFileSync(config, 'utf8');
    const from = d().log.length;
    writeAtomically(config, good.replace("list rule 'udp;udp'", "list rule 'udp;udp port 70000'"));
    process.kill(d().pid, 'SIGHUP');
    const text = await waitForLog(d(), /reload refused/, from);
    assert.equal(text.split('\n').filter((l) => /reload refused/.test(l)).length, 1, text);
    assert.match(text, new RegExp(`${config}:\\d+: `), 'the refusal names file:line');
    await countsKept('after the refused reload');
    await replayAndCheck('after the refused reload');
    writeAtomically(config, good);
    process.kill(d().pid, 'SIGHUP');
    await sleep(1000);
    await countsKept('after the good configuration came back');
  });

  test('the runtime directory removed (sockets, pid file): both back by themselves, counters kept', async () => {
    const from = d().log.length;
    rmSync(runDir, { recursive: true, force: true });
    await waitForSockets(d(), [socket], 15_000);
    const deadline = Date.now() + 15_000;
    while (!existsSync(pidFile) && Date.now() < deadline) await sleep(100);
    assert.equal(readFileSync(pidFile, 'utf8'), `${d().pid}\n`, 'the pid file is written again');
    const text = d().log.slice(from);
    assert.equal(text.split('\n').filter((l) => l.includes('socket file removed by someone else')).length, 1, text);
    assert.equal(text.split('\n').filter((l) => l.includes('removed by someone else: written again')).length, 1, text);
    await countsKept('after the runtime directory was removed');
    await replayAndCheck('after the runtime directory was removed');
  });

  test('the socket file deleted by someone else: served again, counters kept', async () => {
    rmSync(socket);
    await waitForSockets(d(), [socket], 15_000);
    await countsKept('after the socket was deleted');
  });

  test('the interface down and up: said once each way, counting resumes with no frame lost, counters kept', async () => {
    const from = d().log.length;
    run(['ip', '-n', link.recvNs, 'link', 'set', 'dev', link.recvIf, 'down']);
    await waitForLog(d(), /lan0 is down/, from);
    run(['ip', '-n', link.recvNs, 'link', 'set', 'dev', link.recvIf, 'up']);
    // Frames sent as soon as the link has carrier count: the capture was never closed.
    for (let i = 0; i < 100 && !/state UP/.test(run(['ip', '-n', link.recvNs, 'link', 'show', 'dev', link.recvIf])); i++) await sleep(20);
    await countsKept('after down/up');
    await replayAndCheck('right after up');
    const text = await waitForLog(d(), /lan0 is up again/, from);
    assert.equal(text.split('\n').filter((l) => /lan0 is (down|up again)/.test(l)).length, 2, text);
    assert.deepEqual(await d().stop('SIGTERM', 10_000), { code: 0, signal: null }, `the daemon ends cleanly. ${d().describe()}`);
  });
});
