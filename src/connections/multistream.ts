/**
 * The bytes of a multistream-select 1.0 proposal, for the upgrades that select `/noise`
 * lazily (the UDX path's and the fast upgrade of a burrow ↔ burrow punched TCP connection):
 * the header line and the protocol line, each an unsigned-varint length and the line.
 * @see https://github.com/multiformats/multistream-select
 */

/** yamux's protocol id: the muxer both burrow ends give the upgrader directly */
export const YAMUX_PROTOCOL = '/yamux/1.0.0'

/** multistream-select 1.0's header line */
const MSS_HEADER = '/multistream/1.0.0\n'

/** A line as multistream-select sends it: unsigned-varint length, then the bytes. */
function lengthPrefixed (line: string): Buffer {
  const bytes = Buffer.from(line, 'utf8')
  const len: number[] = []
  let n = bytes.byteLength
  while (n >= 0x80) { len.push((n & 0x7f) | 0x80); n >>>= 7 }
  len.push(n)
  return Buffer.concat([Buffer.from(len), bytes])
}

/** The header and `protocol`'s line, as the dialler of a lazy selection sends them at once. */
export function multistreamProposal (protocol: string): Buffer {
  return Buffer.concat([lengthPrefixed(MSS_HEADER), lengthPrefixed(`${protocol}\n`)])
}
