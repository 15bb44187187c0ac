/**
 * Per-rule rates over a short sliding window: a ring of counter samples
 * taken once a second (by a timer, never on the packet path).
 */
import type { Counters } from './counters';

export const RATE_WINDOW_SAMPLES = 5;

export class RateWindow {
  private readonly bytes: Float64Array;
  private readonly packets: Float64Array;
  private readonly times = new Float64Array(RATE_WINDOW_SAMPLES + 1);
  private next = 0;
  private filled = 0;

  constructor(private readonly size: number) {
    this.bytes = new Float64Array(size * (RATE_WINDOW_SAMPLES + 1));
    this.packets = new Float64Array(size * (RATE_WINDOW_SAMPLES + 1));
  }

  sample(counters: Counters, nowMs: number): void {
    const base = this.next * this.size;
    this.bytes.set(counters.bytes.subarray(0, this.size), base);
    this.packets.set(counters.packets.subarray(0, this.size), base);
    this.times[this.next] = nowMs;
    this.next = (this.next + 1) % (RATE_WINDOW_SAMPLES + 1);
    if (this.filled < RATE_WINDOW_SAMPLES + 1) this.filled++;
  }

  /** Per second between the oldest and the newest sample; 0 until two samples exist. */
  rate(slot: number, which: 'bytes' | 'packets'): number {
    if (this.filled < 2) return 0;
    const newest = (this.next + RATE_WINDOW_SAMPLES) % (RATE_WINDOW_SAMPLES + 1);
    const oldest = this.filled <= RATE_WINDOW_SAMPLES ? 0 : this.next;
    const seconds = (this.times[newest] - this.times[oldest]) / 1000;
    if (seconds <= 0) return 0;
    const values = which === 'bytes' ? this.bytes : this.packets;
    return (values[newest * this.size + slot] - values[oldest * this.size + slot]) / seconds;
  }
}
