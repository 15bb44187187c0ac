/**
 * The `pcap` addon that this Node resolves loads, and reading captures
 * through it (filter compiled by the addon's libpcap) gives the packet and
 * wire-byte counts the libpcap oracle gives. Under Node 18 (test/node18/run.sh)
 * it also proves that the Node 18 build in build/node18 is the one in use.
 * The batch API added by openwrt/node-pcap/patches gives the same counts, with
 * small buffers too (many batches per read).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { endianness } from 'node:os';
import { join, sep } from 'node:path';

interface OfflineSession {
  open_offline(path: string, filter: string, bufferSize: number, snapLength: number, dumpFile: string,
    onPacket: () => void, monitor: boolean, bufferTimeoutMs: number, onWarning: (message: string) => void,
    promiscuous: boolean): string;
  dispatch(packet: Buffer, header: Buffer): number;
  dispatch_batch(data: Buffer, headers: Buffer, onBatch: (count: number) => void): number;
  close(): void;
}

interface Binding {
  PcapSession: new () => OfflineSession;
}

const root = join(__dirname, '..', '..', '..');
const pcaps = join(root, 'test', 'data', 'pcaps');
const oracle = join(root, 'build', 'pcap-oracle');
const bindingId = 'pcap/build/Release/pcap_binding.node';
const node18Build = join(root, 'build', 'node18', 'node_modules') + sep;
const runningNode18 = process.versions.node.split('.')[0] === '18';

const cases: { capture: string; linkType: string; filters: string[] }[] = [
  { capture: 'dns_tcp.pcap', linkType: 'LINKTYPE_ETHERNET',
    filters: ['', 'tcp port 53', 'tcp[tcpflags] & tcp-syn != 0', 'udp', 'greater 100'] },
  { capture: 'eapon1.pcap', linkType: 'LINKTYPE_ETHERNET',
    filters: ['', 'arp', 'udp and (port 67 or port 68)', 'ether broadcast', 'ether proto 0x888e', 'ip6'] },
  { capture: 'various_gre.pcap', linkType: 'LINKTYPE_ETHERNET',
    filters: ['vlan', 'vlan and icmp', 'proto gre', 'not vlan'] },
  { capture: 'babel.pcap', linkType: 'LINKTYPE_LINUX_SLL',
    filters: ['', 'ip6 and udp port 6696', 'icmp6', 'ether host 01:02:03:04:05:06'] },
];

interface Counted { packets: number; bytes: number }

/** Reads a whole capture through the addon; null when libpcap refuses the filter. */
function countWithAddon(binding: Binding, capture: string, filter: string): { linkType: string; counts: Counted } | null {
  const session = new binding.PcapSession();
  const packet = Buffer.alloc(262144);
  const header = Buffer.alloc(16);
  const counts: Counted = { packets: 0, bytes: 0 };
  const readWireLength = endianness() === 'LE' ? () => header.readUInt32LE(12) : () => header.readUInt32BE(12);
  const onPacket = (): void => {
    counts.packets++;
    counts.bytes += readWireLength();
  };
  let linkType: string;
  try {
    linkType = session.open_offline(capture, filter, 0, 0, '', onPacket, false, 0, () => {}, false);
  } catch {
    return null;
  }
  // One dispatch drains an offline capture (it loops until pcap_dispatch returns 0).
  assert.equal(session.dispatch(packet, header), 0, `dispatch on ${capture}`);
  session.close();
  assert.equal(session.dispatch(packet, header), -2, 'dispatch after close() frees the handle');
  return { linkType, counts };
}

/** The same through dispatch_batch(), with a buffer of `bytes` and room for `slots` packets per batch. */
function countWithBatches(binding: Binding, capture: string, filter: string, bytes: number, slots: number): Counted | null {
  const session = new binding.PcapSession();
  const data = Buffer.alloc(bytes);
  const headers = new Uint32Array(new ArrayBuffer(slots * 12));
  const counts: Counted = { packets: 0, bytes: 0 };
  let batches = 0;
  const onBatch = (count: number): void => {
    assert.ok(count >= 1 && count <= slots, `batch of ${count}`);
    batches++;
    for (let i = 0; i < count; i++) {
      assert.ok(headers[3 * i] + headers[3 * i + 1] <= bytes, 'packet inside the buffer');
      counts.packets++;
      counts.bytes += headers[3 * i + 2];
    }
  };
  try {
    session.open_offline(capture, filter, 0, 0, '', () => {}, false, 0, () => {}, false);
  } catch {
    return null;
  }
  assert.equal(session.dispatch_batch(data, Buffer.from(headers.buffer), onBatch), 0, `dispatch_batch on ${capture}`);
  if (counts.packets > slots) assert.ok(batches > 1, 'a full header array starts a new batch');
  session.close();
  assert.equal(session.dispatch_batch(data, Buffer.from(headers.buffer), onBatch), -2, 'dispatch_batch after close()');
  return counts;
}

/** libpcap's own answer with its optimiser, as the addon compiles (test/oracle/pcap-oracle.c): null for a refused expression. */
function countWithOracle(capture: string, filters: string[]): (Counted | null)[] {
  const out = execFileSync(oracle, ['count-opt', capture, '-'], { input: filters.join('\n') + '\n', encoding: 'utf8' });
  const lines = out.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, filters.length, `oracle answered every expression for ${capture}`);
  return lines.map((line) => {
    const ok = /^OK (\d+) (\d+)$/.exec(line);
    if (ok) return { packets: Number(ok[1]), bytes: Number(ok[2]) };
    assert.match(line, /^ERR /);
    return null;
  });
}

before(() => {
  execFileSync('sh', [join(root, 'test', 'oracle', 'build.sh')], { stdio: 'inherit' });
});

test('the pcap addon resolved for this Node is built for its ABI', () => {
  const resolved = require.resolve(bindingId);
  if (runningNode18) {
    assert.equal(process.versions.modules, '108');
    assert.ok(resolved.startsWith(node18Build), `Node 18 must use the build in ${node18Build}, got ${resolved}`);
  } else {
    assert.ok(!resolved.startsWith(node18Build), `Node ${process.version} must not use the Node 18 build (${resolved})`);
  }
  // A wrong ABI makes this throw ("compiled against a different Node.js version").
  const binding = require(bindingId) as Binding;
  assert.equal(typeof binding.PcapSession, 'function');
});

for (const { capture, linkType, filters } of cases) {
  test(`addon counts on ${capture} equal libpcap's`, () => {
    const binding = require(bindingId) as Binding;
    const path = join(pcaps, capture);
    const expected = countWithOracle(path, filters);
    filters.forEach((filter, i) => {
      if (filter === '') assert.ok(expected[i]?.packets, `libpcap reads packets from ${capture}`);
      const got = countWithAddon(binding, path, filter);
      const want = expected[i];
      if (want === null) {
        assert.equal(got, null, `libpcap refuses '${filter}' on ${capture}, the addon must too`);
        return;
      }
      assert.ok(got !== null, `the addon refused '${filter}' on ${capture}`);
      assert.equal(got.linkType, linkType);
      assert.deepEqual(got.counts, want, `'${filter}' on ${capture}`);
      assert.deepEqual(countWithBatches(binding, path, filter, 262144, 4096), want, `batches: '${filter}' on ${capture}`);
      assert.deepEqual(countWithBatches(binding, path, filter, 262144, 3), want, `batches of 3: '${filter}' on ${capture}`);
    });
  });
}
