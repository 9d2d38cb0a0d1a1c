/**
 * One UDP socket carries UDX packets (handled inside udx-native) and three kinds of other
 * datagrams, told apart by their first bytes (docs/DESIGN.md, UDX path):
 * - STUN: bytes 4..7 are the magic cookie 0x2112A442 (RFC 5389 §6);
 * - `BRWP`: punch probes (src/udx/birthday.ts);
 * - `BRWH`: the stream handshake (src/udx/handshake.ts).
 * Anything else is dropped and counted.
 */
import { STUN_MAGIC_COOKIE } from '../stun/index.js'
import { HANDSHAKE_MAGIC, PROBE_MAGIC } from './constants.js'
import type { UDXSocket, UDXAddress } from 'udx-native'

export type DemuxKind = 'BRWP' | 'BRWH' | 'STUN'
export type DatagramHandler = (buf: Buffer, from: { host: string, port: number }) => void

const BRWH = Buffer.from(HANDSHAKE_MAGIC, 'ascii').readUInt32BE(0)
const BRWP = Buffer.from(PROBE_MAGIC, 'ascii').readUInt32BE(0)

/** Which kind a datagram is, by its first bytes; undefined for none of ours. */
export function kindOf (buf: Buffer): DemuxKind | undefined {
  if (buf.length < 4) return undefined
  const head = buf.readUInt32BE(0)
  if (head === BRWH) return 'BRWH'
  if (head === BRWP) return 'BRWP'
  if (buf.length >= 20 && buf.readUInt32BE(4) === STUN_MAGIC_COOKIE && (buf[0]! & 0xc0) === 0) return 'STUN'
  return undefined
}

export class DatagramDemux {
  private readonly socket: UDXSocket
  private readonly handlers = new Map<DemuxKind, Set<DatagramHandler>>()
  private readonly onMessage: (buf: Buffer, from: UDXAddress) => void
  /** datagrams that were none of ours, or ours with nobody listening */
  dropped = 0

  constructor (socket: UDXSocket) {
    this.socket = socket
    this.onMessage = (buf, from) => {
      const kind = kindOf(buf)
      const set = kind != null ? this.handlers.get(kind) : undefined
      if (set == null || set.size === 0) {
        this.dropped++
        return
      }
      for (const h of [...set]) {
        try {
          h(buf, { host: from.host, port: from.port })
        } catch {
          // a handler's failure is its own; the socket keeps serving the others
        }
      }
    }
    socket.on('message', this.onMessage)
  }

  /** Adds a handler for one kind; returns the function that removes it. */
  on (magic: DemuxKind, handler: DatagramHandler): () => void {
    let set = this.handlers.get(magic)
    if (set == null) {
      set = new Set()
      this.handlers.set(magic, set)
    }
    set.add(handler)
    return () => { set.delete(handler) }
  }

  close (): void {
    this.socket.removeListener('message', this.onMessage)
    this.handlers.clear()
  }
}
