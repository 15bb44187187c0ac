/**
 * When live captures get their generated matcher. A capture counts from its first packet by
 * walking its rules' trees (filter/interpret.ts); the generated function, several times faster
 * per packet, is built afterwards, one capture per event-loop turn so packets and socket queries
 * are served in between. At start the builds wait until the sockets serve (holdCodeBuilds): on
 * a router CPU generating the code of the shipped rules is seconds of cold JavaScript, and the
 * counters are exact either way.
 */

const waiting: (() => void)[] = [];
let held = false;
let scheduled = false;

/** Runs `build` soon, or once released when held. */
export function buildCodeLater(build: () => void): void {
  waiting.push(build);
  if (!held) schedule();
}

/** From now until releaseCodeBuilds(), builds wait. */
export function holdCodeBuilds(): void {
  held = true;
}

/** The builds that waited start `delayMs` from now. */
export function releaseCodeBuilds(delayMs: number): void {
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
}
