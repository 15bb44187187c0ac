/** A configuration error that points at its source: printed as one line `where: message`. */
export class ConfigError extends Error {
  constructor(readonly where: string, readonly reason: string) {
    super(`${where}: ${reason}`);
  }
}
