/**
 * How much each fuzz test tries. CI runs the defaults (bounded, seconds per
 * parser); long runs outside CI: FUZZ_INPUTS=100000 FUZZ_SEED=<n> test/run.sh fuzz
 * (the count line of each test says what was tried).
 */
import { Prng } from '../filter/gen/prng';

export function fuzzInputs(defaultCount: number): number {
  const n = Number(process.env.FUZZ_INPUTS ?? '');
  return Number.isInteger(n) && n > 0 ? n : defaultCount;
}

export function fuzzPrng(salt: number): Prng {
  const seed = Number(process.env.FUZZ_SEED ?? '1');
  return new Prng(((Number.isInteger(seed) ? seed : 1) * 1000003 + salt) >>> 0);
}

/** A message a user reads: one line, no stack frame. */
export function isOneLine(message: string): boolean {
  return message.length > 0 && !message.includes('\n') && !/\bat .+:\d+:\d+\)?$/.test(message);
}

/** Random bytes, biased to the characters that matter to line-based parsers. */
export function noise(prng: Prng, length: number, alphabet: string): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    s += prng.chance(0.8) ? alphabet[prng.int(alphabet.length)] : String.fromCharCode(prng.int(0x3000));
  }
  return s;
}

/** A copy of `text` with a few random edits: insertions, deletions, duplicated or swapped slices. */
export function mutateText(prng: Prng, text: string, alphabet: string): string {
  let s = text;
  const edits = prng.range(1, 6);
  for (let e = 0; e < edits; e++) {
    const at = prng.int(s.length + 1);
    switch (prng.int(5)) {
      case 0: s = s.slice(0, at) + noise(prng, prng.range(1, 8), alphabet) + s.slice(at); break;
      case 1: s = s.slice(0, at) + s.slice(at + prng.range(1, 12)); break;
      case 2: { const from = prng.int(s.length + 1); s = s.slice(0, at) + s.slice(from, from + prng.range(1, 40)) + s.slice(at); break; }
      case 3: s = s.slice(at) + s.slice(0, at); break;
      default: s = s.slice(0, at) + alphabet[prng.int(alphabet.length)].repeat(prng.range(1, 300)) + s.slice(at); break;
    }
  }
  return s;
}
