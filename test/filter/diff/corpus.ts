/** The test material (test/data): libpcap's corpus expressions and the captures, with their link types. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile, type Capture } from '../gen/pcap-file';
import { CORPUS_CAPTURES, TEST_CORPUS, TEST_PCAPS } from '../../support/paths';

export function readExpressions(file: string): string[] {
  return readFileSync(join(TEST_CORPUS, file), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export interface ApplyCase { expr: string; savefile: string; match: number[] }

export function readApplyCases(): ApplyCase[] {
  return JSON.parse(readFileSync(join(TEST_CORPUS, 'apply-en10mb.json'), 'utf8')) as ApplyCase[];
}

export interface NamedCapture { name: string; path: string; capture: Capture }

/** Every capture in pcaps/ and corpus/libpcap-filter-captures/, parsed. */
export function allCaptures(): NamedCapture[] {
  const out: NamedCapture[] = [];
  for (const dir of [TEST_PCAPS, CORPUS_CAPTURES]) {
    for (const f of readdirSync(dir).sort()) {
      if (!/\.pcap(ng)?$/.test(f)) continue;
      const path = join(dir, f);
      const name = `${dir.endsWith('pcaps') ? 'pcaps' : 'filter-captures'}/${f}`;
      out.push({ name, path, capture: readCaptureFile(path) });
    }
  }
  return out;
}

export function capturePath(savefile: string): string {
  return join(CORPUS_CAPTURES, savefile);
}

/**
 * The DLT numbers under which the engine must handle a file's link type: what
 * pcap_datalink() returns on Linux (LINKTYPE_RAW 101 -> DLT_RAW 12, as the
 * daemon passes it) and the file's own number when that differs (the brief's
 * contract names RAW 101).
 */
export function engineDlts(fileLinkType: number): number[] {
  return fileLinkType === 101 ? [12, 101] : [fileLinkType];
}

/** The DLT to hand pcap_open_dead for a file link type (libpcap refuses 101 there). */
export function oracleDlt(fileLinkType: number): number {
  return fileLinkType === 101 ? 12 : fileLinkType;
}
