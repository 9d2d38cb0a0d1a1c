/**
 * One UDP socket, several protocols: datagrams that are not UDX packets are told apart by
 * their first bytes (STUN by its magic cookie, RFC 5389 §6; burrow's punch probes by `BRWP`;
 * udx's stream handshake by `BRWH`); anything else is dropped and counted.
 *
 * Minimal version written by bday so birthday probing can be built and tested; owned by
 * the UDX transport (engineer "udx"), whose version the merge keeps.
 */
import type UDX from 'udx-native'

export type DemuxMagic = 'BRWP' | 'BRWH' | 'STUN'
export type DemuxHandler = (buf: Buffer, from: { host: string, port: number }) => void

const STUN_COOKIE = 0x2112a442
const STUN_HEADER_BYTES = 20
const MAGIC_BYTES = 4

export class DatagramDemux {
  /** datagrams that matched no handler */
  dropped = 0
  private readonly socket: UDX.UDXSocket
  private readonly handlers = new Map<DemuxMagic, Set<DemuxHandler>>()
  private readonly onMessage: (buf: Buffer, from: UDX.UDXAddress) => void

  constructor (socket: UDX.UDXSocket) {
    this.socket = socket
    this.onMessage = (buf, from) => { this.dispatch(buf, from) }
    socket.on('message', this.onMessage)
  }

  /** Calls `handler` for every datagram of that kind; returns the function that removes it. */
  on (magic: DemuxMagic, handler: DemuxHandler): () => void {
    let set = this.handlers.get(magic)
    if (set === undefined) {
      set = new Set()
      this.handlers.set(magic, set)
    }
    set.add(handler)
    return () => { set.delete(handler) }
  }

  close (): void {
    this.socket.off('message', this.onMessage)
    this.handlers.clear()
  }

  private dispatch (buf: Buffer, from: UDX.UDXAddress): void {
    const magic = classify(buf)
    const set = magic === undefined ? undefined : this.handlers.get(magic)
    if (set === undefined || set.size === 0) {
      this.dropped++
      return
    }
    for (const h of set) h(buf, { host: from.host, port: from.port })
  }
}

function classify (buf: Buffer): DemuxMagic | undefined {
  if (buf.length >= STUN_HEADER_BYTES && buf.readUInt32BE(4) === STUN_COOKIE && (buf[0]! & 0xc0) === 0) return 'STUN'
  if (buf.length < MAGIC_BYTES) return undefined
  const m = buf.toString('latin1', 0, MAGIC_BYTES)
  return m === 'BRWP' || m === 'BRWH' ? m : undefined
}
