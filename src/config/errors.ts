/** A configuration error that points at its source: printed as one line `where: message`. */
export class ConfigError extends Error {
  readonly where: string;
  readonly reason: string;

  constructor(where: string, reason: string) {
    // Messages quote what the user wrote, which may hold newlines or be huge: keep them one short line.
    const place = oneLine(where, PLACE_MAX), text = oneLine(reason, 300);
    super(`${place}: ${text}`);
    this.where = place;
    this.reason = text;
  }
}

/** A place (a path, maybe with :line) is cut only past PATH_MAX. */
export const PLACE_MAX = 4096;

/** Control characters escaped, cut after `max` characters. */
export function oneLine(text: string, max: number): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return escaped.length > max ? `${escaped.slice(0, max)}...` : escaped;
}
