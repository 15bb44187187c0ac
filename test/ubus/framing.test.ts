/**
 * The framing layer gets every captured stream (per connection and
 * direction, all messages joined) in random pieces and must give back exactly
 * the captured messages.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FramingError, MessageSplitter } from '../../src/ubus/framing';
import { bytesOf, fixtureFiles, loadFixture, prng, randomChunks } from './fixtures';

interface Stream {
  name: string;
  messages: string[];
  bytes: Buffer;
}

function capturedStreams(): Stream[] {
  const streams: Stream[] = [];
  for (const file of fixtureFiles()) {
    const byKey = new Map<string, string[]>();
    for (const m of loadFixture(file).messages) {
      const key = `${file} conn ${m.conn} ${m.dir}`;
      byKey.set(key, [...(byKey.get(key) ?? []), m.hex]);
    }
    for (const [name, messages] of byKey) streams.push({ name, messages, bytes: Buffer.from(messages.join(''), 'hex') });
  }
  return streams;
}

function split(chunks: Buffer[]): string[] {
  const s = new MessageSplitter();
  const out = chunks.flatMap((c) => s.push(c)).map((b) => b.toString('hex'));
  assert.equal(s.pendingBytes, 0);
  return out;
}

test('captured streams survive arbitrary chunking', () => {
  const streams = capturedStreams();
  let cuts = 0;
  let messages = 0;
  for (const st of streams) {
    // Whole stream in one read: many messages per chunk.
    assert.deepEqual(split([st.bytes]), st.messages, `${st.name}: one chunk`);
    // Byte by byte.
    assert.deepEqual(split([...st.bytes].map((b) => Buffer.from([b]))), st.messages, `${st.name}: single bytes`);
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed * 7919 + st.bytes.length);
      const chunks = randomChunks(st.bytes, rnd, 1 + Math.floor(rnd() * 300));
      cuts += chunks.length;
      assert.deepEqual(split(chunks), st.messages, `${st.name}: seed ${seed}`);
    }
    messages += st.messages.length;
  }
  assert.equal(messages, 304);
  assert.ok(cuts > 10000, `random pieces: ${cuts}`);
});

test('a partial message stays pending until its last byte', () => {
  const m = bytesOf(loadFixture('scenario-a-object-server.json').messages[1]);
  const s = new MessageSplitter();
  assert.deepEqual(s.push(m.subarray(0, m.length - 1)), []);
  assert.equal(s.pendingBytes, m.length - 1);
  assert.deepEqual(s.push(m.subarray(m.length - 1)).map((b) => b.toString('hex')), [m.toString('hex')]);
});

test('impossible lengths are framing errors', () => {
  assert.throws(() => new MessageSplitter().push(Buffer.from('000000000000000000000003', 'hex')), FramingError);
  // ubusd's limit: 1 MiB of body.
  assert.throws(() => new MessageSplitter().push(Buffer.from('000000000000000000100004', 'hex')), FramingError);
  assert.deepEqual(new MessageSplitter().push(Buffer.from('000000000000000000100000', 'hex')), []);
});
