/**
 * A router's daemon lives for months through reloads (every `uci commit` +
 * reload_config) and interfaces that come and go (mesh, VPN): a capture that
 * is closed must give back its packet socket and ring (buffersize bytes of
 * pinned kernel memory each). Counted here as the packet rings the process
 * has mapped (`socket:[inode]` mappings in /proc/<pid>/maps) and its open
 * packet socket descriptors.
 *
 * The `pcap` binding frees a closed live capture only inside a read, which
 * libpcap reaches only when a packet is waiting (README, "Differences"): a
 * capture closed by a reload is freed by the next packet passing its old
 * filter; the capture of an interface that vanished stays until the daemon
 * restarts. Both are pinned here: the first exactly, the second as a bound.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { replay } from '../support/netns';
import { writeEthernetPcap } from '../support/pcap';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, NO_UBUS, removeVeth, startServiceDaemon, uciText, waitForSockets, waitForStderr,
  writeAtomically, type ServiceNet,
} from '../support/service';

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

/** A broadcast ARP request: passes every filter used here (`arp or ...`). */
function arpFrame(): Buffer {
  const f = Buffer.alloc(60);
  f.fill(0xff, 0, 6);
  Buffer.from([0x02, 0xb0, 0xcf, 0, 0, 3]).copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]).copy(f, 14);
  return f;
}

describe('service: closed captures release their sockets and rings', () => {
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

  test('reloads that change a rule: after the next packet, as many rings and sockets as after start; hot-plug: at most one kept per vanished interface', async () => {
    net = createServiceNet();
    let mesh = addVeth(net, 'mesh0', 'pmesh0');
    const config = join(dir, 'bpfcountd');
    const socket = join(dir, 'mesh.sock');
    const arpPcap = join(dir, 'arp.pcap');
    writeEthernetPcap(arpPcap, [arpFrame()]);
    const write = (expr: string): void => writeAtomically(config, uciText([
      { name: 'mesh', options: { ifname: 'mesh0', socket }, rules: [{ id: 'r', expr }, { id: 'all', expr: 'greater 0' }] },
    ]));
    writeFileSync(config, '');
    write('arp');
    daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], socket);
    await waitForSockets(daemon, [socket]);
    await waitForStderr(daemon, /serving 1 instance/);
    const pid = daemon.pid;
    const start = { rings: mappedRings(pid), sockets: socketFds(pid) };
    assert.ok(start.rings >= 1, 'the capture has a ring');

    for (let i = 1; i <= 5; i++) {
      const from = daemon.stderr.length;
      write(`arp or udp port ${i}`);
      process.kill(pid, 'SIGHUP');
      await waitForStderr(daemon, /mesh: reloaded\n/, from);
    }
    const afterReloads = { rings: mappedRings(pid), sockets: socketFds(pid) };
    replay(mesh, arpPcap);
    await sleep(500);
    assert.deepEqual({ rings: mappedRings(pid), sockets: socketFds(pid) }, start,
      `after 5 reloads (${JSON.stringify(afterReloads)} before the next packet) and one packet. ${daemon.describe()}`);

    const cycles = 2;
    for (let i = 0; i < cycles; i++) {
      let from = daemon.stderr.length;
      removeVeth(net, mesh);
      await waitForStderr(daemon, /waiting for it/, from, 5000);
      from = daemon.stderr.length;
      mesh = addVeth(net, 'mesh0', 'pmesh0');
      await waitForStderr(daemon, /mesh: counting/, from, 5000);
    }
    replay(mesh, arpPcap);
    await sleep(500);
    const now = { rings: mappedRings(pid), sockets: socketFds(pid) };
    assert.ok(now.rings <= start.rings + cycles && now.sockets <= start.sockets + cycles,
      `after ${cycles} hot-plug cycles: ${JSON.stringify(now)}, at start ${JSON.stringify(start)}. ${daemon.describe()}`);
  });
});
