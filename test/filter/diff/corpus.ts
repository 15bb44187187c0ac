/** The shared test material: libpcap's corpus expressions and the captures, with their link types. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile, type Capture } from '../gen/pcap-file';
import { sharedPath } from './harness';

export function readExpressions(file: string): string[] {
  return readFileSync(sharedPath('corpus', file), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export interface ApplyCase { expr: string; savefile: string; match: number[] }

export function readApplyCases(): ApplyCase[] {
  return JSON.parse(readFileSync(sharedPath('corpus', 'apply-en10mb.json'), 'utf8')) as ApplyCase[];
}

export interface NamedCapture { name: string; path: string; capture: Capture }

/** Every capture in pcaps/ and corpus/libpcap-filter-captures/, parsed. */
export function allCaptures(): NamedCapture[] {
  const out: NamedCapture[] = [];
  for (const dir of [sharedPath('pcaps'), sharedPath('corpus', 'libpcap-filter-captures')]) {
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
  return sharedPath('corpus', 'libpcap-filter-captures', savefile);
}
