/**
 * Bytes from the bus: random and mutated ubus messages through the framing
 * layer and the decoder. Every input ends in whole messages or a typed error
 * (FramingError, BlobError) with a one-line message: never another exception,
 * never a hang, whatever the lengths or nesting say.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BlobError, encodeAttr } from '../../src/ubus/blob';
import { BlobmsgType, MAX_NESTING } from '../../src/ubus/blobmsg';
import { FramingError, MessageSplitter } from '../../src/ubus/framing';
import { AttrId, decodeMessage, MsgType } from '../../src/ubus/message';
import { bytesOf, fixtureFiles, loadFixture } from '../ubus/fixtures';
import { fuzzInputs, fuzzPrng, isOneLine } from './budget';

type Outcome = 'decoded' | 'blob-error' | 'framing-error' | 'incomplete';

/** What the daemon's ubus client does with bytes from the socket, in chunks. */
function feed(bytes: Buffer, chunkSizes: () => number): Outcome {
  const splitter = new MessageSplitter();
  let decoded = 0, blobErrors = 0;
  try {
    for (let at = 0; at < bytes.length;) {
      const n = Math.max(1, chunkSizes());
      for (const msg of splitter.push(bytes.subarray(at, at + n))) {
        try {
          decodeMessage(msg);
          decoded++;
        } catch (err) {
          if (!(err instanceof BlobError)) throw err;
          assert.ok(isOneLine(err.message), err.message);
          blobErrors++;
        }
      }
      at += n;
    }
  } catch (err) {
    if (!(err instanceof FramingError)) throw err;
    assert.ok(isOneLine(err.message), err.message);
    return 'framing-error';
  }
  if (blobErrors > 0) return 'blob-error';
  return decoded > 0 ? 'decoded' : 'incomplete';
}

function mutate(prng: ReturnType<typeof fuzzPrng>, msg: Buffer): Buffer {
  const out = Buffer.from(msg);
  const flips = prng.range(1, 4);
  for (let i = 0; i < flips; i++) {
    const at = prng.int(out.length);
    switch (prng.int(3)) {
      case 0: out[at] ^= 1 << prng.int(8); break;
      case 1: out[at] = prng.int(256); break;
      default: if (at + 4 <= out.length) out.writeUInt32BE(prng.next(), at); break;
    }
  }
  return prng.chance(0.2) ? out.subarray(0, prng.int(out.length + 1)) : out;
}

/** A message whose payload nests arrays `depth` deep: libubox has no depth limit, the decoder must not blow the stack. */
function deeplyNested(depth: number): Buffer {
  // Each level: a blob header (extended, type array, length) and an empty blobmsg name (2-byte length, NUL, pad).
  const nest = Buffer.alloc(8 * depth);
  for (let level = 0; level < depth; level++) {
    nest.writeUInt32BE((0x80000000 | (BlobmsgType.ARRAY << 24) | (8 * (depth - level))) >>> 0, 8 * level);
  }
  const data = encodeAttr(AttrId.DATA, false, nest);
  const top = encodeAttr(0, false, data);
  const header = Buffer.from([0, MsgType.INVOKE, 0, 1, 0, 0, 0, 1]);
  return Buffer.concat([header, top]);
}

test('fuzz: ubus messages from the bus', () => {
  const prng = fuzzPrng(3);
  const real = fixtureFiles().flatMap((f) => loadFixture(f).messages.map(bytesOf));
  assert.ok(real.length > 100, `${real.length} captured messages`);
  const total = fuzzInputs(20000);
  const outcomes: Record<Outcome, number> = { decoded: 0, 'blob-error': 0, 'framing-error': 0, incomplete: 0 };
  for (let i = 0; i < total; i++) {
    let bytes: Buffer;
    switch (prng.int(4)) {
      case 0: bytes = Buffer.from(Array.from({ length: prng.range(0, 64) }, () => prng.int(256))); break;
      case 1: bytes = Buffer.concat([mutate(prng, real[prng.int(real.length)]), real[prng.int(real.length)]]); break;
      default: bytes = mutate(prng, real[prng.int(real.length)]); break;
    }
    outcomes[feed(bytes, () => (prng.chance(0.5) ? bytes.length : prng.range(1, 16)))]++;
  }
  console.log(`fuzz ubus: ${total} inputs: ${JSON.stringify(outcomes)}`);
  assert.equal(Object.values(outcomes).reduce((a, b) => a + b, 0), total);
  assert.ok(outcomes.decoded > 0 && outcomes['blob-error'] > 0 && outcomes['framing-error'] > 0, 'every outcome reached');
});

test('ubus: a message nested 100000 deep is refused without exhausting the stack; one announcing 16 MiB is a framing error', () => {
  const deep = deeplyNested(100000);
  // The message's frame is sound; its DATA is refused by the decoder and kept as raw bytes (as any undecodable attribute).
  assert.equal(feed(deep, () => deep.length), 'decoded');
  const data = decodeMessage(deep).attrs.find((a) => a.id === AttrId.DATA);
  assert.equal(data?.kind, 'raw');
  // 64 levels still decode.
  const ok = decodeMessage(deeplyNested(MAX_NESTING)).attrs.find((a) => a.id === AttrId.DATA);
  assert.equal(ok?.kind, 'blobmsg');
  const huge = Buffer.from([0, 4, 0, 1, 0, 0, 0, 1, 0x00, 0xff, 0xff, 0xff]);
  assert.equal(feed(huge, () => huge.length), 'framing-error');
});
