/**
 * src/outputs/reply-server.ts: the counter sockets' server, on libuv's pipe handle and on
 * node:net (its fallback), answers alike; serving does not load node:net (the start-up
 * cost it exists to avoid); a client that never reads is dropped; errors are net's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listenReplying, type ReplyServer } from '../../src/outputs/reply-server';
import { readSocket } from '../../src/outputs/query';

const MODULE = join(__dirname, '..', '..', 'src', 'outputs', 'reply-server.js');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-reply-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Past a unix socket's buffer (~200 kB): the write stays pending and completes as the client reads.
const LONG_TEXT = 'rule-with-a-long-name:123456789012:1234567890\n'.repeat(40_000);

for (const useNet of [false, true]) {
  const how = useNet ? 'node:net' : 'the pipe handle';

  test(`${how}: every client gets the current text, short or longer than the socket buffer`, async (t) => {
    const dir = tempDir(t);
    let n = 0;
    const servers: ReplyServer[] = [];
    t.after(() => servers.forEach((s) => s.close()));
    servers.push(await listenReplying(join(dir, 'short.sock'), () => `a:${++n}:1\n`, { useNet }));
    servers.push(await listenReplying(join(dir, 'long.sock'), () => LONG_TEXT, { useNet }));
    const answers = await Promise.all([1, 2, 3, 4].map(() => readSocket(join(dir, 'short.sock'))));
    assert.deepEqual(answers.sort(), ['a:1:1\n', 'a:2:1\n', 'a:3:1\n', 'a:4:1\n']);
    assert.equal(await readSocket(join(dir, 'long.sock')), LONG_TEXT);
  });

  test(`${how}: a client that never reads is dropped after the timeout`, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'x.sock');
    const server = await listenReplying(path, () => LONG_TEXT, { useNet, clientTimeoutMs: 200 });
    t.after(() => server.close());
    const client = connect(path);
    client.pause();
    const started = Date.now();
    await new Promise<void>((resolve) => client.on('connect', () => resolve()));
    // Once the server gives up, what is left in the buffer arrives and then the end: never the whole text.
    // net re-arms its timeout while its write queue still shrinks, so it gives up one period or more after
    // the client stops reading: the client waits several periods.
    await new Promise((r) => setTimeout(r, 1500));
    let received = 0;
    client.on('data', (chunk: Buffer) => { received += chunk.length; });
    client.resume();
    await new Promise<void>((resolve) => { client.on('close', () => resolve()); client.on('error', () => undefined); });
    assert.ok(received < LONG_TEXT.length, `received ${received} of ${LONG_TEXT.length}`);
    assert.ok(Date.now() - started < 6000);
  });

  test(`${how}: a path that cannot be bound rejects with net's error`, async (t) => {
    const dir = tempDir(t);
    await assert.rejects(listenReplying(join(dir, 'missing', 'x.sock'), () => '', { useNet }), { code: 'EACCES' }); // libuv's code for a missing directory, through either path
  });
}

test('serving and answering on the pipe handle loads no node:net', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'x.sock');
  // node:fs first: the daemon has it loaded anyway (on Node 18 that alone loads the stream modules).
  const script = `const { writeSync } = require('node:fs');
const before = new Set(process.moduleLoadList);
const { listenReplying } = require(${JSON.stringify(MODULE)});
listenReplying(${JSON.stringify(path)}, () => 'a:1:1\\n').then((server) => {
  // Told to report by a signal: process.stdin would itself load net.
  process.once('SIGUSR2', () => {
    const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ') && (m === 'NativeModule net' || m.includes('stream')));
    writeSync(1, (loaded.join(',') || 'none') + '\\n');
    server.close();
  });
  writeSync(1, 'listening\\n');
});`;
  // Run from a file, as the daemon is.
  const scriptFile = join(dir, 'serve.js');
  writeFileSync(scriptFile, script);
  const child = spawn(process.execPath, [scriptFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const waitFor = async (text: string): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!out.includes(text) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(out.includes(text), out);
  };
  await waitFor('listening');
  assert.equal(await readSocket(path), 'a:1:1\n');
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGUSR2');
  await exited;
  assert.deepEqual(out.trim().split('\n'), ['listening', 'none']);
});
