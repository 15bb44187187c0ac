/**
 * Parser for OpenWrt UCI configuration files (/etc/config/<package>), so the
 * daemon needs no `uci` binary. Follows libuci's tokenizer (file.c) on what it
 * accepts and how it joins quoted parts; it is stricter where libuci silently
 * does something surprising (see the deviations below).
 *
 * Statements, one per line: `package <name>`, `config <type> [<name>]`,
 * `option <name> <value>`, `list <name> <value>`; libuci also accepts the
 * one-letter forms `p`, `c`, `o`, `l`.
 * Arguments: unquoted words, '...' (no escapes), "..." (backslash escapes the
 * next character: `\"` -> `"`, `\n` -> `n`), juxtaposed parts join into one
 * argument ('a'"b"c -> abc). A backslash before the end of a line joins the
 * next line. Quoted strings may span lines (the newline is kept). An unquoted
 * `#` starts a comment, even inside a word (`a#b` is `a`).
 *
 * Semantics as libuci: a named section declared twice is one section (a
 * different type is an error); a repeated option overwrites; `list` after an
 * `option` of the same name turns it into a list; `option x ''` is ignored
 * (an earlier value stays).
 * Anonymous sections get libuci's generated name `cfg<NN><HHHH>`: NN is the
 * number of sections declared so far including this one (hex, at least two
 * digits), HHHH the low 16 bits of a djb hash of the section type (libuci
 * names the section when it is created, before any option). This is the name
 * `config_foreach` and `uci show -X` print, so init scripts and the daemon agree.
 *
 * Deviations (errors here, silently accepted by libuci):
 * - `option x` / `list x` without a value (libuci: ignored / adds '').
 * - An unquoted `;` (libuci treats it as a command separator and, for
 *   `config t; option ...`, drops the options that follow): quote the value.
 */
import { allChars, isWordChar } from '../chars';
import { ConfigError } from './errors';
import { readConfigText } from './read';

export interface UciItem {
  value: string;
  /** `file:line` where the value starts. */
  where: string;
}

export type UciOption =
  | { kind: 'option'; value: string; where: string }
  | { kind: 'list'; items: UciItem[]; where: string };

export interface UciSection {
  type: string;
  /** The declared name, or libuci's generated `cfgNNHHHH` for an anonymous section. */
  name: string;
  anonymous: boolean;
  /** `file:line` of the (first) `config` statement. */
  where: string;
  options: Map<string, UciOption>;
}

export interface UciPackage {
  file: string;
  /** In declaration order. */
  sections: UciSection[];
}

/** A word of a statement, after quote removal. */
interface Word {
  text: string;
  line: number;
  /** True if any part was quoted or escaped (only plain words can be commands). */
  literal: boolean;
}

/** Package names: [A-Za-z0-9_-]. */
const isPackageNameChar = (c: number): boolean => isWordChar(c) || c === 45;
/** libuci: a type is printable ASCII without space (33..126). */
const isTypeChar = (c: number): boolean => c >= 0x21 && c <= 0x7e;
/** isspace() except the newline, which ends a statement. */
const BLANK = new Set([' ', '\t', '\r', '\v', '\f']);

export function readUciFile(path: string): UciPackage {
  return parseUci(readConfigText(path, 'UCI file'), path);
}

export function parseUci(text: string, file: string): UciPackage {
  const sections: UciSection[] = [];
  const byName = new Map<string, UciSection>();
  let current: UciSection | undefined;
  const tokenizer = new Tokenizer(text, file);

  for (let words = tokenizer.statement(); words !== undefined; words = tokenizer.statement()) {
    if (words.length === 0) continue;
    const [command, ...args] = words;
    const where = `${file}:${command.line}`;
    const verb = command.literal ? '' : command.text;
    switch (verb) {
      case 'package':
      case 'p': {
        const name = required(args, 0, file, where, 'package name');
        if (!allChars(name.text, isPackageNameChar)) throw bad(file, name, 'invalid character in package name');
        noMore(args, 1, file);
        // libuci ignores `package` when loading one file by name: so do we.
        break;
      }
      case 'config':
      case 'c': {
        const type = required(args, 0, file, where, 'section type');
        if (!allChars(type.text, isTypeChar)) throw bad(file, type, `invalid character in section type '${type.text}'`);
        const name = args[1];
        if (name !== undefined && name.text !== '' && !allChars(name.text, isWordChar)) {
          throw bad(file, name, `invalid character in section name '${name.text}' (only A-Z a-z 0-9 _)`);
        }
        noMore(args, 2, file);
        if (name === undefined || name.text === '') {
          const section: UciSection = {
            type: type.text,
            name: anonymousName(sections.length + 1, type.text),
            anonymous: true,
            where,
            options: new Map(),
          };
          sections.push(section);
          current = section;
        } else {
          const existing = byName.get(name.text);
          if (existing !== undefined) {
            if (existing.type !== type.text) {
              throw new ConfigError(where, `section '${name.text}' declared again with type '${type.text}' (was '${existing.type}' at ${existing.where})`);
            }
            current = existing;
          } else {
            const section: UciSection = { type: type.text, name: name.text, anonymous: false, where, options: new Map() };
            sections.push(section);
            byName.set(name.text, section);
            current = section;
          }
        }
        break;
      }
      case 'option':
      case 'o':
      case 'list':
      case 'l': {
        const isList = verb === 'list' || verb === 'l';
        if (current === undefined) throw new ConfigError(where, `'${command.text}' before the first 'config' section`);
        const name = required(args, 0, file, where, 'option name');
        if (!allChars(name.text, isWordChar)) throw bad(file, name, `invalid character in option name '${name.text}' (only A-Z a-z 0-9 _)`);
        const value = required(args, 1, file, where, `value for '${name.text}'`, true);
        noMore(args, 2, file);
        const valueWhere = `${file}:${value.line}`;
        const options = current.options;
        if (!isList) {
          // libuci ignores an empty option value when reading a file (it neither sets nor deletes).
          if (value.text !== '') options.set(name.text, { kind: 'option', value: value.text, where: valueWhere });
        } else {
          const previous = options.get(name.text);
          const item = { value: value.text, where: valueWhere };
          if (previous === undefined) options.set(name.text, { kind: 'list', items: [item], where: valueWhere });
          else if (previous.kind === 'list') previous.items.push(item);
          else options.set(name.text, { kind: 'list', items: [{ value: previous.value, where: previous.where }, item], where: previous.where });
        }
        break;
      }
      default:
        throw new ConfigError(where, `invalid command '${command.text}' (expected package, config, option or list)`);
    }
  }
  return { file, sections };
}

/** libuci's name for the n-th section (counting all sections) when it is anonymous. */
export function anonymousName(sectionNumber: number, type: string): string {
  let hash = 5381;
  for (let i = 0; i < type.length; i++) hash = (Math.imul(hash, 33) + type.charCodeAt(i)) >>> 0;
  hash &= 0x7fffffff;
  return `cfg${sectionNumber.toString(16).padStart(2, '0')}${(hash % 0x10000).toString(16).padStart(4, '0')}`;
}

function required(args: Word[], index: number, file: string, where: string, what: string, emptyAllowed = false): Word {
  const word = args[index];
  if (word === undefined) throw new ConfigError(where, `missing ${what}`);
  if (word.text === '' && !emptyAllowed) throw bad(file, word, `empty ${what}`);
  return word;
}

function noMore(args: Word[], count: number, file: string): void {
  const extra = args[count];
  if (extra !== undefined) throw bad(file, extra, `too many arguments ('${extra.text}'); quote values that contain spaces`);
}

function bad(file: string, word: Word, reason: string): ConfigError {
  return new ConfigError(`${file}:${word.line}`, reason);
}

/** Splits the text into statements (lists of words), tracking line numbers. */
class Tokenizer {
  private pos = 0;
  private line = 1;

  constructor(private readonly text: string, private readonly file: string) {}

  /** The next statement's words ([] for a blank or comment line), or undefined at the end. */
  statement(): Word[] | undefined {
    if (this.pos >= this.text.length) return undefined;
    const words: Word[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === undefined) return words;
      if (c === '\n') {
        this.pos++;
        this.line++;
        return words;
      }
      if (c === '#') {
        this.skipComment();
        continue;
      }
      const word = this.word();
      if (word === undefined) {
        // The word was only a comment (`#...`) or a line continuation: nothing to add.
        continue;
      }
      words.push(word);
    }
  }

  private skipBlanks(): void {
    while (this.pos < this.text.length && BLANK.has(this.text[this.pos])) this.pos++;
  }

  private skipComment(): void {
    while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.pos++;
  }

  /** One argument: juxtaposed unquoted, '...' and "..." parts up to a blank or the end of the line. */
  private word(): Word | undefined {
    const line = this.line;
    let text = '';
    let literal = false;
    let parts = 0;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n' || BLANK.has(c)) break;
      if (c === '#') {
        this.skipComment();
        break;
      }
      if (c === ';') {
        throw new ConfigError(`${this.file}:${this.line}`, `unquoted ';' (UCI reads it as a command separator): quote the value`);
      }
      parts++;
      if (c === "'") {
        literal = true;
        text += this.quoted("'");
      } else if (c === '"') {
        literal = true;
        text += this.quoted('"');
      } else if (c === '\\') {
        literal = true;
        const escaped = this.backslash();
        if (escaped === undefined) {
          parts--;
          continue;
        }
        text += escaped;
      } else {
        text += c;
        this.pos++;
      }
    }
    if (parts === 0) return undefined;
    return { text, line, literal };
  }

  /**
   * After a backslash: the escaped character, or undefined for a line
   * continuation (backslash-newline, also before CRLF, or at the end of the text).
   */
  private backslash(): string | undefined {
    this.pos++;
    const c = this.text[this.pos];
    if (c === undefined) return undefined;
    if (c === '\n' || (c === '\r' && this.text[this.pos + 1] === '\n')) {
      this.pos += c === '\n' ? 1 : 2;
      this.line++;
      return undefined;
    }
    this.pos++;
    return c;
  }

  private quoted(quote: "'" | '"'): string {
    const startLine = this.line;
    this.pos++;
    let text = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) {
        throw new ConfigError(`${this.file}:${startLine}`, `unterminated ${quote} (the file ends inside the quoted string)`);
      }
      if (c === quote) {
        this.pos++;
        return text;
      }
      if (quote === '"' && c === '\\') {
        const escaped = this.backslash();
        if (escaped !== undefined) text += escaped;
        continue;
      }
      if (c === '\n') this.line++;
      text += c;
      this.pos++;
    }
  }
}
