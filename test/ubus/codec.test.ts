/**
 * Every captured message decodes to what the capture's own decode says and
 * encodes back to the captured bytes; plus the blobmsg cases the captures do
 * not contain (UNSPEC, extreme integers, malformed input).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BlobError, decodeAttrs, encodeAttr } from '../../src/ubus/blob';
import {
  BlobmsgField, BlobmsgValue, decodeFields, encodeField, encodeFields, fromJs, integerOf, tableFromJs, toJs,
} from '../../src/ubus/blobmsg';
import { decodeMessage, encodeMessage } from '../../src/ubus/message';
import { bytesOf, fixtureFiles, loadFixture, messageFromFixture } from './fixtures';

test('every message of every transcript decodes as captured and re-encodes byte for byte', () => {
  const files = fixtureFiles();
  assert.equal(files.length, 6, 'expected the six scenario files');
  let total = 0;
  const distinct = new Set<string>();
  for (const file of files) {
    const fx = loadFixture(file);
    assert.ok(fx.messages.length > 0, file);
    for (const m of fx.messages) {
      const bytes = bytesOf(m);
      assert.equal(bytes.length, 8 + m.blob_len, `${file} #${m.n}: length`);
      const decoded = decodeMessage(bytes);
      const expected = messageFromFixture(m);
      assert.deepEqual(decoded, expected, `${file} #${m.n}: decode differs from the capture's decode`);
      assert.ok(decoded.attrs.every((a) => a.kind !== 'raw'), `${file} #${m.n}: an attribute did not decode`);
      assert.equal(encodeMessage(decoded).toString('hex'), m.hex, `${file} #${m.n}: re-encode of our decode`);
      assert.equal(encodeMessage(expected).toString('hex'), m.hex, `${file} #${m.n}: encode of the capture's decode`);
      total++;
      // A and B are cut from the AB run, so (run, n) names a distinct message.
      distinct.add(`${/^scenario-(a|b|ab)-/.test(file) ? 'ab' : file}#${m.n}`);
    }
  }
  // The README counts 304 entries, 216 of them distinct (A and B are subsets of AB).
  assert.equal(total, 304);
  assert.equal(distinct.size, 216);
});

test('blobmsg: every type, both directions, matching libubox layout', () => {
  const fields: BlobmsgField[] = [
    { name: 'u', value: { type: 'unspec', data: Buffer.from([1, 2, 3]) } },
    { name: 'n', value: { type: 'unspec', data: Buffer.alloc(0) } },
    { name: 'a', value: { type: 'array', items: [{ type: 'int8', value: 1 }, { type: 'string', value: 'x' }] } },
    { name: 't', value: { type: 'table', fields: [{ name: 'deep', value: { type: 'table', fields: [] } }] } },
    { name: 's', value: { type: 'string', value: 'grüße' } },
    { name: 'max', value: { type: 'int64', value: 9223372036854775807n } },
    { name: 'min', value: { type: 'int64', value: -9223372036854775808n } },
    { name: 'i32', value: { type: 'int32', value: -2147483648 } },
    { name: 'i16', value: { type: 'int16', value: -32768 } },
    { name: 'i8', value: { type: 'int8', value: -1 } },
    { name: 'd', value: { type: 'double', value: -0.1 } },
    { name: 'inf', value: { type: 'double', value: Infinity } },
  ];
  const bytes = encodeFields(fields);
  assert.equal(bytes.length % 4, 0);
  assert.deepEqual(decodeFields(bytes), fields);
  // Layout facts from the README: "instance" name header is 12 bytes, a 2-byte INT16 gets 2 pad bytes.
  assert.equal(encodeField('vlan', { type: 'int16', value: 7 }).toString('hex'), '8600000e' + '0004766c616e0000' + '0007' + '0000');
  assert.equal(encodeField('enabled', { type: 'int8', value: 0 }).subarray(0, 4).toString('hex'), '87000011');
  assert.equal(encodeField('none', { type: 'array', items: [] }).toString('hex'), '8100000c00046e6f6e650000');
});

test('blobmsg: JS conversion (integers as INT64, both widths accepted on input)', () => {
  const fields = tableFromJs({ big: 5000000000, small: 450, rate: 0.5, on: true, name: 'x', gone: undefined, nil: null, list: [1, 'a'] });
  assert.deepEqual(fields.map((f) => [f.name, f.value.type]), [
    ['big', 'int64'], ['small', 'int64'], ['rate', 'double'], ['on', 'int8'], ['name', 'string'], ['nil', 'unspec'], ['list', 'array'],
  ]);
  assert.deepEqual(toJs({ type: 'table', fields: decodeFields(encodeFields(fields)) }),
    { big: 5000000000, small: 450, rate: 0.5, on: true, name: 'x', nil: null, list: [1, 'a'] });
  const widths: BlobmsgValue[] = [
    { type: 'int32', value: 450 }, { type: 'int64', value: 450n }, { type: 'int16', value: 450 },
  ];
  for (const v of widths) assert.equal(integerOf(v), 450);
  assert.equal(integerOf({ type: 'int64', value: 2n ** 60n }), 2n ** 60n);
  assert.equal(integerOf({ type: 'string', value: '1' }), undefined);
  assert.deepEqual(fromJs(2 ** 53), { type: 'int64', value: 2n ** 53n });
  assert.deepEqual(fromJs(2 ** 64), { type: 'double', value: 2 ** 64 });
  assert.deepEqual(fromJs(-3), { type: 'int64', value: -3n });
  assert.deepEqual(fromJs(NaN), { type: 'unspec', data: Buffer.alloc(0) });
  assert.deepEqual(fromJs(-Infinity), { type: 'unspec', data: Buffer.alloc(0) });
});

test('malformed input is rejected, not misread', () => {
  const good = encodeField('s', { type: 'string', value: 'ab' });
  const noNul = Buffer.from(good);
  noNul[noNul.length - 2] = 0x41; // last payload byte (before padding) is the string's NUL
  const cases: [string, Buffer][] = [
    ['length below header', Buffer.from('80000002', 'hex')],
    ['length beyond container', Buffer.from('8300001000027300', 'hex')],
    ['string without NUL', noNul],
    ['int32 of 3 bytes', encodeAttr(5, true, Buffer.from('000000010203', 'hex'))],
    ['not extended', encodeAttr(3, false, Buffer.from('0000000061620000', 'hex'))],
    ['name overrun', encodeAttr(3, true, Buffer.from('00ff61', 'hex'))],
    ['unknown type', encodeAttr(9, true, Buffer.from('00000000', 'hex'))],
  ];
  for (const [what, bytes] of cases) assert.throws(() => decodeFields(bytes), BlobError, what);
  assert.throws(() => decodeMessage(Buffer.from('000000000000000000000008', 'hex')), BlobError, 'container longer than message');
  // The last child may omit its padding.
  assert.equal(decodeAttrs(Buffer.from('0100000541', 'hex')).length, 1);
  // A known ubus attribute with a broken payload is kept raw instead of throwing.
  const msg = decodeMessage(Buffer.from('0005000200000001' + '0000000c' + '03000006abcd0000', 'hex'));
  assert.equal(msg.attrs[0].kind, 'raw');
});
