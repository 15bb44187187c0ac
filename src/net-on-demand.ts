/**
 * node:net, loaded at its first use rather than with the bundle: the Node builds of Debian
 * and OpenWrt for MIPS have no code cache, so loading net compiles it and the 25 stream
 * modules it pulls in from source, 2.3 s on emulated mipsel. The counter sockets do without
 * it (outputs/reply-server.ts); the ubus client, `--query` and rare paths load it here.
 */
export function loadNet(): typeof import('node:net') {
  return require('node:net') as typeof import('node:net');
}
