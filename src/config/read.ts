/** Reads a configuration file; an unreadable one is a ConfigError naming it. */
import { readText } from '../files';
import { ConfigError } from './errors';

export function readConfigText(path: string, kind: string): string {
  try {
    return readText(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(path, `cannot read ${kind} (${code})`);
  }
}
