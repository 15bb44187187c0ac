/**
 * The two ways a rule can leave the compiler early.
 * FilterError: libpcap certainly refuses the expression (pos = character offset, -1 unknown).
 * Unsupported: the expression may be valid, but this engine does not evaluate it exactly.
 */
export class FilterError extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
  }
}

export class Unsupported extends Error {}

export function unsupported(reason: string): never {
  throw new Unsupported(reason);
}

export function fail(message: string, pos = -1): never {
  throw new FilterError(message, pos);
}
