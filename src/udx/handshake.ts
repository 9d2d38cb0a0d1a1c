/**
 * The stream-id exchange over `BRWH` datagrams, on one UDP socket (an endpoint).
 *
 * UDX streams are addressed by 32-bit ids chosen by each side; before a stream can carry
 * bytes, each side must know the other's id. The exchange:
 * 1. the initiator picks id I and sends HELLO(I) to the responder's host:port, again after
 *    200 ms, 400 ms, … (doubling to 1.6 s) until it is answered or it gives up (10 s);
 * 2. the responder picks id R, connects its stream to (I, host:port) and answers ACK(I, R);
 *    a repeated HELLO(I) from the same host:port gets the same ACK again (idempotent);
 * 3. the initiator connects its stream to (R, host:port) and the upgrader starts (Noise's
 *    initiator speaks first, so the responder never sends before the initiator is connected).
 * In a punch, the responder also sends PUNCH datagrams to the initiator's address (they open
 * its own NAT's mapping and are dropped on arrival) until the HELLO arrives.
 *
 * Datagrams (big-endian): `BRWH` | kind (1 byte) | …
 * - HELLO = 1: | I (u32)            9 bytes
 * - ACK   = 2: | I (u32) | R (u32)  13 bytes
 * - PUNCH = 3:                       5 bytes
 * Any other length or kind is dropped (counted).
 *
 * Bounds: inbound handshakes whose stream has carried no byte yet are capped per source IP
 * and in total (constants.ts); beyond, a HELLO is dropped (the initiator's resends retry).
 */
import UDX from 'udx-native'
import { DatagramDemux } from './demux.js'
import { UdxHandshakeError } from './errors.js'
import {
  HANDSHAKE_FIRST_RESEND_MS, HANDSHAKE_MAGIC, HANDSHAKE_MAX_RESEND_MS, HANDSHAKE_TIMEOUT_MS,
  MAX_PENDING_PER_IP, MAX_PENDING_TOTAL, PENDING_TTL_MS
} from './constants.js'
import type { UDXSocket, UDXStream } from 'udx-native'

export const HELLO = 1
export const ACK = 2
export const PUNCH = 3

const MAGIC = Buffer.from(HANDSHAKE_MAGIC, 'ascii')

export type HandshakeMessage =
  | { kind: typeof HELLO, initiatorId: number }
  | { kind: typeof ACK, initiatorId: number, responderId: number }
  | { kind: typeof PUNCH }

export function encodeHandshake (msg: HandshakeMessage): Buffer {
  if (msg.kind === PUNCH) return Buffer.concat([MAGIC, Buffer.of(PUNCH)])
  const out = Buffer.alloc(msg.kind === HELLO ? 9 : 13)
  MAGIC.copy(out, 0)
  out[4] = msg.kind
  out.writeUInt32BE(msg.initiatorId, 5)
  if (msg.kind === ACK) out.writeUInt32BE(msg.responderId, 9)
  return out
}

/** The message in a `BRWH` datagram, or undefined when it is not one (wrong kind or length). */
export function decodeHandshake (buf: Buffer): HandshakeMessage | undefined {
  if (buf.length < 5 || !buf.subarray(0, 4).equals(MAGIC)) return undefined
  const kind = buf[4]
  if (kind === HELLO && buf.length === 9) return { kind, initiatorId: buf.readUInt32BE(5) }
  if (kind === ACK && buf.length === 13) return { kind, initiatorId: buf.readUInt32BE(5), responderId: buf.readUInt32BE(9) }
  if (kind === PUNCH && buf.length === 5) return { kind }
  return undefined
}

/** UDX stream ids in use in this process (ids are per UDX instance; process-wide is stricter). */
const usedIds = new Set<number>()

/** A fresh stream on `udx` with an id no other stream here has; the id is freed when the stream closes. */
export function createStream (udx: UDX): UDXStream {
  let id: number
  do {
    id = (Math.random() * 0xffffffff) >>> 0
  } while (id === 0 || usedIds.has(id))
  usedIds.add(id)
  const stream = udx.createStream(id)
  stream.once('close', () => usedIds.delete(id))
  return stream
}

export interface InboundStream {
  stream: UDXStream
  host: string
  port: number
}

export interface EndpointInit {
  udx: UDX
  socket: UDXSocket
  /** a new inbound stream nobody expected (the listener upgrades it); without it, such HELLOs are dropped */
  onInbound?: (inbound: InboundStream) => void
  maxPendingPerIp?: number
  maxPendingTotal?: number
  /** the socket's demux when the caller made one (else the endpoint makes and closes its own) */
  demux?: DatagramDemux
}

interface Responded {
  responderId: number
  stream: UDXStream
  /** no byte received on it yet */
  pending: boolean
  host: string
}

interface Dialling {
  resolve: (responderId: number) => void
}

const key = (host: string, port: number, id: number): string => `${host}|${port}|${id}`
const addrKey = (host: string, port: number): string => `${host}|${port}`

/** The handshake on one socket: answers HELLOs, dials, and waits for expected peers. */
export class UdxEndpoint {
  readonly udx: UDX
  readonly socket: UDXSocket
  readonly demux: DatagramDemux
  private readonly ownDemux: boolean
  private readonly init: EndpointInit
  private readonly responded = new Map<string, Responded>()
  private readonly dialling = new Map<string, Dialling>()
  private readonly expected = new Map<string, (inbound: InboundStream) => void>()
  private readonly pendingPerIp = new Map<string, number>()
  private pendingTotal = 0
  private readonly off: () => void
  private closed = false
  /** HELLOs dropped for the caps, and malformed BRWH datagrams */
  refused = 0
  malformed = 0

  constructor (init: EndpointInit) {
    this.init = init
    this.udx = init.udx
    this.socket = init.socket
    this.ownDemux = init.demux == null
    this.demux = init.demux ?? new DatagramDemux(init.socket)
    this.off = this.demux.on('BRWH', (buf, from) => { this.onDatagram(buf, from.host, from.port) })
  }

  get pending (): number {
    return this.pendingTotal
  }

  private onDatagram (buf: Buffer, host: string, port: number): void {
    if (this.closed) return
    const msg = decodeHandshake(buf)
    if (msg == null) {
      this.malformed++
      return
    }
    if (msg.kind === HELLO) this.onHello(msg.initiatorId, host, port)
    else if (msg.kind === ACK) this.dialling.get(key(host, port, msg.initiatorId))?.resolve(msg.responderId)
    // PUNCH: only there to open the sender's NAT
  }

  private onHello (initiatorId: number, host: string, port: number): void {
    if (initiatorId === 0) {
      this.malformed++
      return
    }
    const k = key(host, port, initiatorId)
    const known = this.responded.get(k)
    if (known != null) {
      this.send({ kind: ACK, initiatorId, responderId: known.responderId }, host, port)
      return
    }
    const expect = this.expected.get(addrKey(host, port))
    if (expect == null && this.init.onInbound == null) {
      this.refused++
      return
    }
    if (this.pendingTotal >= (this.init.maxPendingTotal ?? MAX_PENDING_TOTAL) ||
      (this.pendingPerIp.get(host) ?? 0) >= (this.init.maxPendingPerIp ?? MAX_PENDING_PER_IP)) {
      this.refused++
      return
    }
    const stream = createStream(this.udx)
    const entry: Responded = { responderId: stream.id, stream, pending: true, host }
    this.responded.set(k, entry)
    this.addPending(host, 1)
    const settle = (): void => {
      if (!entry.pending) return
      entry.pending = false
      this.addPending(host, -1)
      clearTimeout(ttl)
    }
    // an inbound stream that never carries a byte is dropped (its upgrade would time out earlier)
    const ttl = setTimeout(() => { if (entry.pending) stream.destroy() }, PENDING_TTL_MS)
    ttl.unref()
    stream.once('data', settle)
    stream.once('close', () => {
      settle()
      this.responded.delete(k)
    })
    stream.connect(this.socket, initiatorId, port, host)
    this.send({ kind: ACK, initiatorId, responderId: stream.id }, host, port)
    if (expect != null) {
      this.expected.delete(addrKey(host, port))
      expect({ stream, host, port })
    } else {
      this.init.onInbound?.({ stream, host, port })
    }
  }

  private addPending (host: string, n: number): void {
    this.pendingTotal += n
    const now = (this.pendingPerIp.get(host) ?? 0) + n
    if (now <= 0) this.pendingPerIp.delete(host)
    else this.pendingPerIp.set(host, now)
  }

  private send (msg: HandshakeMessage, host: string, port: number): void {
    if (this.closed) return
    try {
      this.socket.trySend(encodeHandshake(msg), port, host)
    } catch {
      // a send to an unroutable address fails at once; the resend or the timeout decides
    }
  }

  /**
   * Initiator: a stream connected to the responder at host:port, once it answered HELLO.
   * Rejects `UdxHandshakeError` when no answer came in time, or on abort.
   */
  async dial (host: string, port: number, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<UDXStream> {
    if (this.closed) throw new UdxHandshakeError('the UDX socket is closed: start the node again')
    options.signal?.throwIfAborted()
    const stream = createStream(this.udx)
    const k = key(host, port, stream.id)
    const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    let deadline: NodeJS.Timeout | undefined
    let onAbort = (): void => {}
    try {
      const responderId = await new Promise<number>((resolve, reject) => {
        this.dialling.set(k, { resolve })
        let wait = HANDSHAKE_FIRST_RESEND_MS
        const hello = (): void => {
          this.send({ kind: HELLO, initiatorId: stream.id }, host, port)
          timer = setTimeout(hello, wait)
          wait = Math.min(wait * 2, HANDSHAKE_MAX_RESEND_MS)
        }
        deadline = setTimeout(() => { reject(new UdxHandshakeError(`no answer to the UDX handshake from ${host}:${port} within ${timeoutMs} ms: the peer is not listening on UDX there, or a firewall drops UDP`)) }, timeoutMs)
        onAbort = () => { reject(options.signal?.reason ?? new UdxHandshakeError('UDX handshake aborted')) }
        options.signal?.addEventListener('abort', onAbort, { once: true })
        hello()
      })
      stream.connect(this.socket, responderId, port, host)
      return stream
    } catch (err) {
      stream.destroy()
      throw err
    } finally {
      clearTimeout(timer)
      clearTimeout(deadline)
      options.signal?.removeEventListener('abort', onAbort)
      this.dialling.delete(k)
    }
  }

  /**
   * Responder of a punch: waits for the initiator's HELLO from host:port, sending PUNCH
   * datagrams there meanwhile (with the initiator's backoff) so our NAT lets it in.
   */
  async expect (host: string, port: number, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<UDXStream> {
    if (this.closed) throw new UdxHandshakeError('the UDX socket is closed: start the node again')
    options.signal?.throwIfAborted()
    const a = addrKey(host, port)
    const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    let deadline: NodeJS.Timeout | undefined
    let onAbort = (): void => {}
    try {
      const inbound = await new Promise<InboundStream>((resolve, reject) => {
        this.expected.set(a, resolve)
        let wait = HANDSHAKE_FIRST_RESEND_MS
        const punch = (): void => {
          this.send({ kind: PUNCH }, host, port)
          timer = setTimeout(punch, wait)
          wait = Math.min(wait * 2, HANDSHAKE_MAX_RESEND_MS)
        }
        deadline = setTimeout(() => { reject(new UdxHandshakeError(`no UDX handshake from ${host}:${port} within ${timeoutMs} ms: its NAT or ours dropped the punch`)) }, timeoutMs)
        onAbort = () => { reject(options.signal?.reason ?? new UdxHandshakeError('UDX handshake aborted')) }
        options.signal?.addEventListener('abort', onAbort, { once: true })
        punch()
      })
      return inbound.stream
    } finally {
      clearTimeout(timer)
      clearTimeout(deadline)
      options.signal?.removeEventListener('abort', onAbort)
      if (this.expected.get(a) != null) this.expected.delete(a)
    }
  }

  /** Stops answering; streams already made stay (their owners close them). */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.off()
    if (this.ownDemux) this.demux.close()
    this.dialling.clear()
    this.expected.clear()
  }
}
