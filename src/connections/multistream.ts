import type { MultiaddrConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

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

/**
 * Selects `protocol` on `maConn` lazily, before the upgrader's multistream-select dialler
 * runs: hands `maConn`'s reader the answer a peer that speaks `protocol` gives (the header,
 * then the protocol, each length-prefixed), so the dialler's proposal and the protocol's
 * first message go out without waiting a round trip; the peer's real answer is checked
 * byte for byte as it comes and stripped. Any other answer aborts `maConn` with
 * `mismatch()`. A connection that is not an AbstractMultiaddrConnection (no `onData`) is
 * left alone: the upgrader negotiates as usual. Returns whether the select is lazy.
 */
export function lazySelect (maConn: MultiaddrConnection, protocol: string, mismatch: () => Error): boolean {
  const conn = maConn as MultiaddrConnection & { onData?: (data: Uint8Array | Uint8ArrayList) => void }
  const original = conn.onData
  if (typeof original !== 'function') return false
  const expected = multistreamProposal(protocol)
  let matched = 0
  let failed = false
  conn.onData = (data) => {
    if (failed) return
    if (matched < expected.byteLength) {
      let buf = data instanceof Uint8Array ? data : data.subarray()
      const n = Math.min(buf.byteLength, expected.byteLength - matched)
      for (let i = 0; i < n; i++) {
        if (buf[i] !== expected[matched + i]) {
          failed = true
          maConn.abort(mismatch())
          return
        }
      }
      matched += n
      if (n === buf.byteLength) return
      buf = buf.subarray(n)
      original.call(conn, buf)
      return
    }
    original.call(conn, data)
  }
  original.call(conn, expected)
  return true
}
