/**
 * A router's daemon lives for months through reloads (every `uci commit` +
 * reload_config) and interfaces that come and go (mesh, VPN): a capture that
 * is closed must give back its packet socket and ring (buffersize bytes of
 * pinned kernel memory each) at once, whatever the traffic (the patched
 * binding frees a handle in close(), not in the next read). Counted here as
 * the packet rings the process has mapped (`socket:[inode]` mappings in
 * /proc/<pid>/maps), its open packet socket descriptors and its RSS, with two
 * sections on the flapping interface and no packet sent meanwhile.
 *
 * RSS from the daemon's start also holds a one-time step: the first time
 * V8's optimising compiler runs (here, the reload path getting hot; on a
 * router, the first seconds of traffic) some 4 MB of node's own executable
 * are paged in (clean, shared file pages; with `node --no-opt` RSS stays
 * flat from start), at a moment that depends on how much work a reload is.
 * So the figures leave the executable's pages out, from start and after a
 * warm-up.
 *
 * BPFC_HANDLE_CYCLES sets the number of hot-plug cycles and of reloads
 * (default 15 for the suite; the issue's check is 200:
 * `BPFC_HANDLE_CYCLES=200 node --test build/test/service/handles.test.js`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, NO_UBUS, removeVeth, startServiceDaemon, uciText, waitForSockets, waitForLog,
  writeAtomically, type ServiceNet,
} from '../support/service';

const CYCLES = Number(process.env.BPFC_HANDLE_CYCLES ?? '15');
/** The bound for RSS growth over the cycles. */
const RSS_SLACK_KB = 3 * 1024;
/** The daemon runs this test's node (service.ts), mapped under its real path. */
const EXECUTABLE = realpathSync(process.execPath);
/** Reloads and hot-plug cycles before the start figures are taken. */
const WARM_UP_ROUNDS = 10;

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Resident kB of the node executable's own file mappings (code and read-only data). */
function executableKb(pid: number): number {
  let kb = 0;
  let inExecutable = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inExecutable = head[1] === EXECUTABLE;
    else if (inExecutable) kb += Number(/^Rss:\s+(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return kb;
}

function mappedRings(pid: number): number {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => /socket:\[\d+\]\s*$/.test(l)).length;
}

/** The process's packet sockets: its socket descriptors listed in its namespace's /proc/net/packet. */
function socketFds(pid: number): number {
  const lines = readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n');
  const inodeColumn = lines[0].trim().split(/\s+/).indexOf('Inode');
  const packetInodes = new Set(lines.slice(1).map((l) => l.trim().split(/\s+/)[inodeColumn]));
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m !== null && packetInodes.has(m[1]);
    } catch {
      return false;
    }
  }).length;
}

describe('service: closed captures release their sockets, rings and memory at once', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;

  before(() => {
    requireLiveEnvironment();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-handles-'));
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`${CYCLES} reloads and ${CYCLES} hot-plug cycles under two sections: rings, sockets and RSS where they started`, async () => {
    net = createServiceNet();
    let mesh = addVeth(net, 'mesh0', 'pmesh0');
    const config = join(dir, 'bpfcountd');
    const sockets = [join(dir, 'in.sock'), join(dir, 'all.sock')];
    // Each section: a shared capture and a rule on its own handle.
    const write = (generation: number): void => writeAtomically(config, uciText([
      { name: 'mesh_in', options: { ifname: 'mesh0', socket: sockets[0], prefilter: 'inbound', buffersize: '1048576' },
        rules: [{ id: 'r', expr: `arp or udp port ${generation}` }, { id: 'own', expr: `inbound and greater ${generation}` }] },
      { name: 'mesh_all', options: { ifname: 'mesh0', socket: sockets[1], buffersize: '1048576' },
        rules: [{ id: 'r', expr: `arp or udp port ${generation}` }, { id: 'own', expr: `outbound and greater ${generation}` }] },
    ]));
    writeFileSync(config, '');
    write(0);
    daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], sockets[0]);
    await waitForSockets(daemon, sockets);
    await waitForLog(daemon, /serving 2 instances/);
    const pid = daemon.pid;
    const measure = (): { rings: number; sockets: number; rssKb: number; executableKb: number } =>
      ({ rings: mappedRings(pid), sockets: socketFds(pid), rssKb: rssKb(pid), executableKb: executableKb(pid) });

    const reload = async (generation: number): Promise<void> => {
      const from = daemon!.log.length;
      write(generation);
      process.kill(pid, 'SIGHUP');
      await waitForLog(daemon!, /mesh_all: reloaded\n/, from);
    };
    const flap = async (): Promise<void> => {
      let from = daemon!.log.length;
      removeVeth(net!, mesh);
      await waitForLog(daemon!, /mesh_in: .*waiting for it[\s\S]*mesh_all: .*waiting for it|mesh_all: .*waiting for it[\s\S]*mesh_in: .*waiting for it/, from, 5000);
      from = daemon!.log.length;
      mesh = addVeth(net!, 'mesh0', 'pmesh0');
      await waitForLog(daemon!, /mesh_in: counting[\s\S]*mesh_all: counting|mesh_all: counting[\s\S]*mesh_in: counting/, from, 5000);
    };

    const atStart = measure();
    // Node's heap (new space) grows over the first rounds until its collections settle; what follows must not grow.
    for (let i = 1; i <= WARM_UP_ROUNDS; i++) {
      await reload(i);
      await flap();
    }
    await sleep(500);
    const start = measure();
    assert.ok(start.rings >= 4 && start.sockets >= 4, `two sections, two captures each: ${JSON.stringify(start)}`);

    for (let i = 0; i < CYCLES; i++) await reload(WARM_UP_ROUNDS + 1 + i);
    await sleep(500);
    const afterReloads = measure();
    for (let i = 0; i < CYCLES; i++) await flap();
    await sleep(500);
    const end = measure();
    // For the record (the issue asks for the figures).
    process.stdout.write(`# handles: daemon started ${JSON.stringify(atStart)}, after ${WARM_UP_ROUNDS} warm-up rounds ${JSON.stringify(start)}, after ${CYCLES} reloads ${JSON.stringify(afterReloads)}, `
      + `after ${CYCLES} hot-plug cycles ${JSON.stringify(end)}\n`);
    assert.deepEqual({ rings: afterReloads.rings, sockets: afterReloads.sockets }, { rings: start.rings, sockets: start.sockets },
      `after ${CYCLES} reloads, no packet sent. ${daemon.describe()}`);
    assert.deepEqual({ rings: end.rings, sockets: end.sockets }, { rings: start.rings, sockets: start.sockets },
      `after ${CYCLES} hot-plug cycles, no packet sent. ${daemon.describe()}`);
    assert.ok(end.executableKb > 0, 'the executable\'s mappings were found');
    const own = (m: typeof end): number => m.rssKb - m.executableKb;
    // Without the executable's pages here too: when the optimising compiler first runs depends on how
    // much work a reload is (with start-up work remembered per job it came during the hot-plug cycles).
    assert.ok(own(end) - own(start) <= RSS_SLACK_KB,
      `RSS without node's executable grew from ${own(start)} kB to ${own(end)} kB over ${CYCLES} reloads and ${CYCLES} hot-plug cycles `
      + `(whole RSS ${start.rssKb} -> ${end.rssKb} kB)`);
    assert.ok(own(end) - own(atStart) <= RSS_SLACK_KB,
      `RSS without node's executable grew from ${own(atStart)} kB at start to ${own(end)} kB after ${WARM_UP_ROUNDS + CYCLES} reloads and hot-plug cycles`);
  });
});
