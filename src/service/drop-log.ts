/**
 * When to log kernel drops (a full capture buffer: the daemon did not read in
 * time). One line per episode, written when a poll sees no new drops, and at
 * most one line per DROP_LOG_MS: a router that is overloaded for hours gets a
 * line a minute with the drops since the last one, not one per packet or per
 * second. Interface drops are reported with them but start no episode
 * (routers drop frames of unknown protocols all the time).
 */
export const DROP_LOG_MS = 60_000;

export class DropLog {
  private episode?: { since: number; dropped: number; ifdropped: number };
  private lastLog = -Infinity;

  constructor(private readonly name: string) {}

  /** New drops seen by one poll at `now` (ms); returns the line to log, if one is due. */
  note(dropped: number, ifdropped: number, now: number): string | undefined {
    if (dropped > 0) this.episode ??= { since: now, dropped: 0, ifdropped: 0 };
    const episode = this.episode;
    if (!episode) return undefined;
    episode.dropped += dropped;
    episode.ifdropped += ifdropped;
    const going = dropped > 0 && now - episode.since < DROP_LOG_MS;
    if (going || now - this.lastLog < DROP_LOG_MS) return undefined;
    const seconds = Math.max(1, Math.round((now - episode.since) / 1000));
    this.lastLog = now;
    this.episode = undefined;
    return `${this.name}: ${episode.dropped} packets dropped by the kernel within ${seconds} s, not counted `
      + `(the capture buffer was full: the daemon did not read in time${episode.ifdropped > 0 ? `; the interface dropped ${episode.ifdropped} more` : ''}); `
      + 'totals in the stats\' drops; a larger buffersize absorbs longer bursts';
  }
}
