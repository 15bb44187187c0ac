/**
 * Exact per-rule counters. Float64 holds every integer up to 2^53
 * (9 PB of bytes, 9e15 packets) exactly; that is the documented limit.
 */
export class Counters {
  readonly bytes: Float64Array;
  readonly packets: Float64Array;

  constructor(readonly size: number) {
    this.bytes = new Float64Array(size);
    this.packets = new Float64Array(size);
  }
}
