/**
 * Character classes by char code, for the text the daemon reads at start (command line, UCI and
 * filter files, filter expressions). Each regular expression a start runs is compiled on first
 * use (irregexp: bytecode, then machine code), some 2-4 ms of a router CPU's start apiece, and a
 * start met some twenty of them; these loops need no compiling.
 * charCodeAt() past the end gives NaN, which no class holds.
 */

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isOctalDigit = (c: number): boolean => c >= 48 && c <= 55;
export const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
export const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
export const isAlnum = (c: number): boolean => isLetter(c) || isDigit(c);
/** [A-Za-z0-9_] */
export const isWordChar = (c: number): boolean => isAlnum(c) || c === 95;
/** [-_.A-Za-z0-9]: inside a filter name or number, so not a word boundary. */
export const isNameChar = (c: number): boolean => isWordChar(c) || c === 46 || c === 45;
/** [A-Za-z_] */
export const isWordStart = (c: number): boolean => isLetter(c) || c === 95;

/** What `\s` matches in a JavaScript regular expression. */
const JS_SPACES = '\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a'
  + '\u2028\u2029\u202f\u205f\u3000\ufeff';

export function hasSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (JS_SPACES.includes(s[i])) return true;
  return false;
}

/** Whether s has min..max characters and every one is in the class. */
export function allChars(s: string, inClass: (c: number) => boolean, min = 1, max = Infinity): boolean {
  if (s.length < min || s.length > max) return false;
  for (let i = 0; i < s.length; i++) if (!inClass(s.charCodeAt(i))) return false;
  return true;
}

/** Where the run of class characters starting at `from` ends. */
export function runEnd(s: string, from: number, inClass: (c: number) => boolean): number {
  let end = from;
  while (end < s.length && inClass(s.charCodeAt(end))) end++;
  return end;
}

/**
 * Whether `word` occurs in s as a whole word, where a word is bounded by the text's ends or
 * characters outside [A-Za-z0-9_.-] (a filter keyword, not part of a name or number).
 */
export function hasWord(s: string, word: string): boolean {
  for (let at = s.indexOf(word); at >= 0; at = s.indexOf(word, at + 1)) {
    if (!isNameChar(s.charCodeAt(at - 1)) && !isNameChar(s.charCodeAt(at + word.length))) return true;
  }
  return false;
}

/** `parts` groups separated by `sep`, each of min..max hex digits (`aa:bb:cc:dd:ee:ff` is 6, ':', 1, 2). */
export function hexGroups(text: string, sep: string, parts: number, min: number, max: number): boolean {
  const groups = text.split(sep);
  return groups.length === parts && groups.every((g) => allChars(g, isHexDigit, min, max));
}
