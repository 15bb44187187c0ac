/**
 * What live captures get after they count: their generated matcher and their narrow kernel
 * filter. A capture counts from its first packet by walking its rules' trees
 * (filter/interpret.ts) with its prefilter as kernel filter; the generated function, several
 * times faster per packet, and the OR of its rules as kernel filter are built afterwards, one
 * capture per event-loop turn, so packets and socket queries are served in between. At start
 * the builds wait until the sockets serve (holdBuilds): on a router CPU they are seconds of cold
 * JavaScript, and the counters are exact either way.
 */
import type { Memo } from '../capture/validate';

const waiting: (() => void)[] = [];
/** Results shared by the builds queued together (sections with the same rules), until the queue is empty. */
const remembered = new Map<string, unknown>();

/** For builds: compute(), or what it gave a build queued with this one. `key` must name every input. */
export const buildMemo: Memo = <T>(key: string, compute: () => T): T => {
  if (remembered.has(key)) return remembered.get(key) as T;
  const value = compute();
  remembered.set(key, value);
  return value;
};
let held = false;
let scheduled = false;

/** Runs `build` soon, or once released when held. */
export function buildLater(build: () => void): void {
  waiting.push(build);
  if (!held) schedule();
}

/** From now until releaseBuilds(), builds wait. */
export function holdBuilds(): void {
  held = true;
}

/** The builds that waited start `delayMs` from now. */
export function releaseBuilds(delayMs: number): void {
  held = false;
  if (waiting.length > 0) setTimeout(schedule, delayMs);
}

function schedule(): void {
  if (scheduled || held) return;
  scheduled = true;
  setImmediate(runOne);
}

function runOne(): void {
  scheduled = false;
  if (held) return;
  waiting.shift()?.();
  if (waiting.length > 0) schedule();
  else remembered.clear();
}
