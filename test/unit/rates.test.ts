import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Counters } from '../../src/engine/counters';
import { RateWindow, RATE_WINDOW_SAMPLES } from '../../src/engine/rates';

describe('rates', () => {
  it('is 0 until two samples exist', () => {
    const counters = new Counters(2);
    const rates = new RateWindow(2);
    assert.equal(rates.rate(0, 'bytes'), 0);
    rates.sample(counters, 1000);
    assert.equal(rates.rate(0, 'bytes'), 0);
  });
  it('averages over the window, per rule', () => {
    const counters = new Counters(2);
    const rates = new RateWindow(2);
    for (let t = 0; t <= 3; t++) {
      counters.bytes[0] = 1000 * t;
      counters.packets[0] = 10 * t;
      counters.bytes[1] = 7;
      rates.sample(counters, 1000 * t);
    }
    assert.equal(rates.rate(0, 'bytes'), 1000);
    assert.equal(rates.rate(0, 'packets'), 10);
    assert.equal(rates.rate(1, 'bytes'), 0);
  });
  it('forgets samples older than the window', () => {
    const counters = new Counters(1);
    const rates = new RateWindow(1);
    // A burst, then silence longer than the window: the rate falls to 0.
    counters.bytes[0] = 0;
    rates.sample(counters, 0);
    counters.bytes[0] = 1e6;
    for (let t = 1; t <= RATE_WINDOW_SAMPLES + 1; t++) rates.sample(counters, 1000 * t);
    assert.equal(rates.rate(0, 'bytes'), 0);
  });
  it('keeps counters exact past 2^32', () => {
    const counters = new Counters(1);
    for (let i = 0; i < 3; i++) counters.bytes[0] += 2 ** 32 - 1;
    counters.bytes[0] += 1500;
    assert.equal(counters.bytes[0], 3 * (2 ** 32 - 1) + 1500);
    assert.equal(String(counters.bytes[0]), '12884903385');
  });
});
