/**
 * A router's daemon lives for months through reloads (every `uci commit` +
 * reload_config) and interfaces that come and go (mesh, VPN): a capture that
 * is closed must give back its packet socket and ring (buffersize bytes of
 * pinned kernel memory each). Counted here as the packet rings the process
 * has mapped (`socket:[inode]` mappings in /proc/<pid>/maps) and its open
 * socket descriptors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, NO_UBUS, removeVeth, startServiceDaemon, uciText, waitForSockets, waitForStderr,
  writeAtomically, type ServiceNet,
} from '../support/service';

function mappedRings(pid: number): number {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => /socket:\[\d+\]\s*$/.test(l)).length;
}

function socketFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
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

  test('5 reloads that change a rule and 2 hot-plug cycles leave as many rings and sockets as after start', async () => {
    net = createServiceNet();
    let mesh = addVeth(net, 'mesh0', 'pmesh0');
    const config = join(dir, 'bpfcountd');
    const socket = join(dir, 'mesh.sock');
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
    for (let i = 0; i < 2; i++) {
      let from = daemon.stderr.length;
      removeVeth(net, mesh);
      await waitForStderr(daemon, /waiting for it/, from, 5000);
      from = daemon.stderr.length;
      mesh = addVeth(net, 'mesh0', 'pmesh0');
      await waitForStderr(daemon, /mesh: counting/, from, 5000);
    }
    await sleep(500);
    assert.deepEqual({ rings: mappedRings(pid), sockets: socketFds(pid) }, start,
      `packet rings / socket descriptors after 5 reloads and 2 hot-plug cycles (each leaked ring pins buffersize bytes). ${daemon.describe()}`);
  });
});
