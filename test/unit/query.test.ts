/** `bpfcountd --query`: reads counter sockets like any client and prints them as text or JSON. */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { formatQuery, parseCounterText, querySockets } from '../../src/outputs/query';
import { DAEMON } from '../support/paths';

function serve(path: string, text: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((c) => c.end(text));
    server.listen(path, () => resolve(server));
  });
}

function runQuery(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DAEMON, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('names a section by its default socket, a path as it is', () => {
  assert.deepEqual(querySockets('eth0_in', '/var/run/bpfcountd'), [{ section: 'eth0_in', path: '/var/run/bpfcountd/eth0_in.sock' }]);
  assert.deepEqual(querySockets('/tmp/x/mesh.in.sock', '/var/run/bpfcountd'), [{ section: 'mesh.in', path: '/tmp/x/mesh.in.sock' }]);
  assert.throws(() => querySockets('', join(tmpdir(), 'no-such-bpfcountd-dir')), /no counter sockets in .*is the service running/);
});

it('parses lines from the right and skips % comments', () => {
  assert.deepEqual(parseCounterText('a:b:12:3\n% note\nx:0:0\n', 's'), [{ id: 'a:b', bytes: 12, packets: 3 }, { id: 'x', bytes: 0, packets: 0 }]);
  assert.throws(() => parseCounterText('garbage\n', 'sock'), /sock: not a counter line/);
  assert.deepEqual(JSON.parse(formatQuery([{ section: '__proto__', path: 'p', text: '__proto__:5:1\n' }], true, false)),
    JSON.parse('{"__proto__": {"__proto__": {"bytes": 5, "packets": 1}}}'), 'ids named __proto__ are kept');
  assert.equal(formatQuery([{ section: 's', path: 'p', text: 'a:1:1\n' }], false, false), 'a:1:1\n');
  assert.equal(formatQuery([{ section: 's', path: 'p', text: 'a:1:1\n' }], false, true), '% s\na:1:1\n');
  assert.equal(formatQuery([{ section: 's', path: 'p', text: 'a:1:1\n' }, { section: 't', path: 'q', text: 'b:2:2\n' }], false, true),
    '% s\na:1:1\n% t\nb:2:2\n');
});

it('the bundle prints a socket\'s lines, as JSON too, and fails in one line on a dead socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-query-'));
  const sock = join(dir, 'eth0_in.sock');
  const server = await serve(sock, 'arp-req:120:2\nid:with:colons:60:1\n');
  t.after(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });
  const text = await runQuery(['--query', sock]);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, 'arp-req:120:2\nid:with:colons:60:1\n');
  const json = await runQuery(['--query', sock, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { eth0_in: { 'arp-req': { bytes: 120, packets: 2 }, 'id:with:colons': { bytes: 60, packets: 1 } } });
  const dead = await runQuery(['--query', join(dir, 'gone.sock')]);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /^bpfcountd: cannot read .*gone\.sock: ENOENT\n$/);
  const usage = await runQuery(['--query', sock, '-r', 'x.pcap']);
  assert.equal(usage.code, 2);
});
