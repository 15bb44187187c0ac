/**
 * Loads the captured ubusd transcripts (test/data/ubus, or
 * $UBUS_FIXTURES) and turns their own decodes (written independently of our
 * code) into the structures our codec uses, so that the captures are the oracle.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlobmsgField, BlobmsgValue } from '../../src/ubus/blobmsg';
import { UbusAttr, UbusMessage } from '../../src/ubus/message';
import { UBUS_TRANSCRIPTS } from '../support/paths';

export const FIXTURE_DIR = process.env.UBUS_FIXTURES ?? UBUS_TRANSCRIPTS;

export interface FixtureNode {
  offset: number;
  len: number;
  id?: number;
  attr?: string;
  name?: string;
  type?: number;
  type_name?: string;
  value?: number | string;
  children?: FixtureNode[];
}

export interface FixtureMessage {
  n: number;
  conn: number;
  dir: 'client->ubusd' | 'ubusd->client';
  hex: string;
  header: { version: number; type: number; type_name: string; seq: number; peer: number };
  blob_len: number;
  attrs: FixtureNode[];
  chunk: number;
  shared_chunk_with?: number[];
}

export interface Fixture {
  file: string;
  scenario: string;
  messages: FixtureMessage[];
}

export function fixtureFiles(): string[] {
  return fs.readdirSync(FIXTURE_DIR).filter((f) => /^scenario-.*\.json$/.test(f)).sort();
}

export function loadFixture(file: string): Fixture {
  const raw = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, file), 'utf8')) as Omit<Fixture, 'file'>;
  return { file, scenario: raw.scenario, messages: [...raw.messages].sort((a, b) => a.n - b.n) };
}

export function bytesOf(m: FixtureMessage): Buffer {
  return Buffer.from(m.hex, 'hex');
}

function num(node: FixtureNode): number {
  if (typeof node.value !== 'number') throw new Error(`fixture node at ${node.offset} has no numeric value`);
  return node.value;
}

function text(node: FixtureNode): string {
  if (typeof node.value !== 'string') throw new Error(`fixture node at ${node.offset} has no string value`);
  return node.value;
}

export function blobmsgFromFixture(node: FixtureNode): BlobmsgValue {
  switch (node.type_name) {
    case 'TABLE': return { type: 'table', fields: fieldsFromFixture(node.children ?? []) };
    case 'ARRAY': return { type: 'array', items: (node.children ?? []).map(blobmsgFromFixture) };
    case 'STRING': return { type: 'string', value: text(node) };
    case 'INT64': return { type: 'int64', value: BigInt(text(node)) };
    case 'INT32': return { type: 'int32', value: num(node) };
    case 'INT16': return { type: 'int16', value: num(node) };
    case 'INT8': return { type: 'int8', value: num(node) };
    case 'DOUBLE': return { type: 'double', value: num(node) };
    default: throw new Error(`fixture blobmsg type ${String(node.type_name)} not handled`);
  }
}

export function fieldsFromFixture(nodes: FixtureNode[]): BlobmsgField[] {
  return nodes.map((n) => ({ name: n.name ?? '', value: blobmsgFromFixture(n) }));
}

const U32_ATTRS = new Set(['STATUS', 'OBJID', 'OBJTYPE', 'TARGET']);
const U8_ATTRS = new Set(['ACTIVE', 'NO_REPLY']);
const STRING_ATTRS = new Set(['OBJPATH', 'METHOD', 'USER', 'GROUP']);
const BLOBMSG_ATTRS = new Set(['DATA', 'SIGNATURE']);

export function attrFromFixture(node: FixtureNode): UbusAttr {
  const id = node.id ?? -1;
  const name = node.attr ?? '';
  if (U32_ATTRS.has(name)) return { id, kind: 'u32', value: num(node) };
  if (U8_ATTRS.has(name)) return { id, kind: 'u8', value: num(node) };
  if (STRING_ATTRS.has(name)) return { id, kind: 'string', value: text(node) };
  if (BLOBMSG_ATTRS.has(name)) return { id, kind: 'blobmsg', value: fieldsFromFixture(node.children ?? []) };
  throw new Error(`fixture attribute ${name} not handled`);
}

export function messageFromFixture(m: FixtureMessage): UbusMessage {
  return { version: m.header.version, type: m.header.type, seq: m.header.seq, peer: m.header.peer, attrs: m.attrs.map(attrFromFixture) };
}

/** Top-level attribute nodes of a message with the given ubus attribute name. */
export function fixtureAttrs(m: FixtureMessage, attr: string): FixtureNode[] {
  return m.attrs.filter((a) => a.attr === attr);
}

/**
 * Rewrites a captured message with other ids: the header's peer and seq, and
 * the u32 of OBJID/OBJTYPE/TARGET, located by the fixture's own offsets.
 */
export function substitute(m: FixtureMessage, ids: (old: number) => number, seq?: number): Buffer {
  const b = Buffer.from(bytesOf(m));
  if (m.header.peer !== 0) b.writeUInt32BE(ids(m.header.peer) >>> 0, 4);
  if (seq !== undefined) b.writeUInt16BE(seq, 2);
  for (const a of m.attrs) {
    if (a.attr === 'OBJID' || a.attr === 'OBJTYPE' || a.attr === 'TARGET') b.writeUInt32BE(ids(num(a)) >>> 0, a.offset + 4);
  }
  return b;
}

/** A deterministic PRNG (mulberry32) so that random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts bytes at random points (pieces of 1..maxPiece bytes). */
export function randomChunks(bytes: Buffer, rnd: () => number, maxPiece: number): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * maxPiece);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}
