/**
 * Log lines written straight to stdout's or stderr's file descriptor. process.stdout and
 * process.stderr are net sockets when they are a pipe or a terminal (procd's log pipe, a
 * console): the first use would load node:net and its stream modules, which the start
 * avoids (net-on-demand.ts). Node writes to both synchronously on Linux anyway.
 */
import { files } from './files';

/** A descriptor someone else left non-blocking and full: waits this long per try, then drops the rest. */
const FULL_WAIT_MS = 10;
const FULL_TRIES = 100;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Never throws: a log nobody reads (EPIPE, closed descriptor) must not stop the counting. */
export function writeLine(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  let tries = 0;
  while (written < bytes.length) {
    try {
      written += files().write(fd, bytes, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > FULL_TRIES) return;
      Atomics.wait(pause, 0, 0, FULL_WAIT_MS);
    }
  }
}
