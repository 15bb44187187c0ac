/** Test helpers: read capture files, ask the libpcap oracle, run our matcher per packet. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileMatcher } from '../../../src/filter';
import { TEST_CORPUS, TEST_PCAPS } from '../../support/paths';

export const ROOT = process.env.FILTER_TEST_ROOT ?? path.resolve(__dirname, '../../../..');
export const PCAPS = TEST_PCAPS;
export const CORPUS = TEST_CORPUS;

export interface Packet { data: Uint8Array; caplen: number; wirelen: number }
export interface Capture { linkType: number; packets: Packet[] }

/** Reads classic pcap (either byte order, micro/nano) and pcapng (EPB/SPB, first interface's link type). */
export function readCapture(file: string): Capture {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(buf);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const packets: Packet[] = [];
  for (let o = 24; o + 16 <= buf.length;) {
    const caplen = u32(o + 8), wirelen = u32(o + 12);
    packets.push({ data: new Uint8Array(buf.subarray(o + 16, o + 16 + caplen)), caplen, wirelen });
    o += 16 + caplen;
  }
  return { linkType, packets };
}

function readPcapng(buf: Buffer): Capture {
  let le = true;
  let linkType = -1;
  const packets: Packet[] = [];
  for (let o = 0; o + 12 <= buf.length;) {
    const u32 = (x: number): number => (le ? buf.readUInt32LE(x) : buf.readUInt32BE(x));
    let type = u32(o);
    if (type === 0x0a0d0d0a) le = buf.readUInt32LE(o + 8) === 0x1a2b3c4d;
    type = u32(o);
    const len = u32(o + 4);
    if (type === 1 && linkType < 0) linkType = le ? buf.readUInt16LE(o + 8) : buf.readUInt16BE(o + 8);
    if (type === 6) {
      const caplen = u32(o + 20), wirelen = u32(o + 24);
      packets.push({ data: new Uint8Array(buf.subarray(o + 28, o + 28 + caplen)), caplen, wirelen });
    }
    o += len;
  }
  return { linkType, packets };
}

export function oracleBuilt(): string {
  execFileSync('sh', [path.join(ROOT, 'test/oracle/build.sh')]);
  return path.join(ROOT, 'build/pcap-oracle');
}

/** libpcap's verdict per expression (optimiser off): 'ERR ...' or a string of 0/1/H per packet. */
export function oracleMatch(capture: string, exprs: readonly string[]): string[] {
  const out = execFileSync(oracleBuilt(), ['match', capture, '-'], { input: exprs.join('\n') + '\n', maxBuffer: 1 << 26 });
  return out.toString().trimEnd().split('\n').map((l) => (l.startsWith('OK ') ? l.slice(3) : l.startsWith('OK') ? '' : l));
}

/** Our verdict per expression: 'ERR', 'LIBPCAP' or 0/1 per packet. */
export function ourMatch(cap: Capture, exprs: readonly string[]): string[] {
  const bytes = new Float64Array(exprs.length), packets = new Float64Array(exprs.length);
  const m = compileMatcher(exprs.map((expr, slot) => ({ slot, expr })), cap.linkType, bytes, packets);
  const bits: string[][] = exprs.map(() => []);
  for (const p of cap.packets) {
    packets.fill(0);
    m.match(p.data, p.caplen, p.wirelen);
    for (let i = 0; i < exprs.length; i++) bits[i].push(packets[i] ? '1' : '0');
  }
  return m.plans.map((plan, i) => (plan.engine === 'javascript' ? bits[i].join('') : plan.engine === 'error' ? 'ERR' : 'LIBPCAP'));
}

export function writePcap(file: string, cap: Capture): void {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0); head.writeUInt16LE(2, 4); head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16); head.writeUInt32LE(cap.linkType, 20);
  parts.push(head);
  for (const p of cap.packets) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(p.caplen, 8); h.writeUInt32LE(p.wirelen, 12);
    parts.push(h, Buffer.from(p.data.subarray(0, p.caplen)));
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** Per expression: packet decisions compared with libpcap, and how many of them were matches. */
export interface Compared { decisions: number; matches: number }

/**
 * Every decision of every expression against libpcap's (optimiser off); none excused. `tally`
 * collects per expression how many decisions were compared (tests assert they compared some).
 */
export function compare(file: string, cap: Capture, exprs: readonly string[], tally?: Map<string, Compared>): string[] {
  const theirs = oracleMatch(file, exprs);
  const ours = ourMatch(cap, exprs);
  const bad: string[] = [];
  exprs.forEach((e, i) => {
    if (ours[i] === 'LIBPCAP') return;
    const refused = theirs[i].startsWith('ERR');
    if (ours[i] === 'ERR') { if (!refused) bad.push(`${path.basename(file)}: ${e}: we refuse, libpcap accepts`); return; }
    if (refused) { bad.push(`${path.basename(file)}: ${e}: libpcap refuses it (${theirs[i]}), we evaluate it`); return; }
    const same = theirs[i].length === ours[i].length && [...ours[i]].every((c, k) => theirs[i][k] === 'H' || c === theirs[i][k]);
    if (!same) bad.push(`${path.basename(file)}: ${JSON.stringify(e)}\n  libpcap ${theirs[i]}\n  ours    ${ours[i]}`);
    if (tally) {
      const t = tally.get(e) ?? { decisions: 0, matches: 0 };
      for (const c of theirs[i]) if (c !== 'H') { t.decisions++; if (c === '1') t.matches++; }
      tally.set(e, t);
    }
  });
  return bad;
}
