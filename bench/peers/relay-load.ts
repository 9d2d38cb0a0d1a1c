/**
 * Helper for bench/relay.ts: the relay capacity load client. ONE process holds thousands of
 * reservations and circuits on one relay, each under its own identity (an Ed25519 key) and
 * its own TCP connection from its own loopback address (127.<pool>.x.y, so the relay sees
 * one IP per client and no per-IP cap is what is measured). No libp2p node per identity:
 * each connection is built by hand, a socket, multistream-select, Noise (the libp2p
 * handshake, @chainsafe/libp2p-noise), multistream-select, Yamux, then the raw circuit v2
 * protocol (libp2p/specs relay/circuit-v2.md) as length-prefixed protobuf on a stream:
 *
 *  - a reservation: HOP RESERVE → STATUS OK; the client then answers the relay's STOP
 *    CONNECT (STATUS OK) and echoes the circuit's bytes back; any other protocol the relay
 *    opens (identify, ping) is answered "na" by multistream-select.
 *  - a circuit: a fresh identity with no reservation sends HOP CONNECT to a reserved one,
 *    then B bytes over the circuit and waits for their echo; the circuit stays open. The
 *    bytes are not Noise-encrypted end to end: the relay forwards opaque bytes either way.
 *
 * Commands on stdin, one a line; each answers one report line on stdout:
 *   reserve TOTAL   → {type:'reserved', total, ok, failed, errors, ms, rssMb}
 *   circuits TOTAL  → {type:'circuits', total, ok, failed, errors, ms, rssMb}
 * (TOTAL counts from the start: `reserve 2500` after `reserve 1000` adds 1,500.)
 *
 *   --relay MA --pool P --concurrency C --bytes B
 */
import { connect } from 'node:net'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { handle, select } from '@libp2p/multistream-select'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { AbstractMultiaddrConnection, ipPortToMultiaddr, pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { report } from '../proc.ts'
import type { Socket } from 'node:net'
import type { AbortOptions, PeerId, Stream, StreamMuxer, Upgrader } from '@libp2p/interface'
import type { AbstractMultiaddrConnectionInit, SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'
const TIMEOUT_MS = 30_000

const { values: opts } = parseArgs({
  options: {
    relay: { type: 'string' },
    pool: { type: 'string', default: '1' },
    // libp2p resets inbound connections past 10 handshaking at once (maxIncomingPendingConnections)
    concurrency: { type: 'string', default: '8' },
    bytes: { type: 'string', default: '1024' }
  }
})
const relayAddr = multiaddr(opts.relay ?? '')
const part = (name: string): string => relayAddr.getComponents().find(c => c.name === name)?.value ?? ''
const relayPeer = peerIdFromString(part('p2p'))
const tcpPart = { host: part('ip4'), port: Number(part('tcp')) }
const POOL = Number(opts.pool)
const CONCURRENCY = Number(opts.concurrency)
const BYTES = Number(opts.bytes)
if (!Number.isInteger(POOL) || POOL < 1 || POOL > 254) throw new Error(`BAD_POOL: --pool ${opts.pool ?? ''}; give 1 to 254 (the second byte of the 127.P.x.y source addresses)`)

// the circuit v2 protobuf codec, as burrow's relay reaches it (the package exports only its root)
interface Codec<T> { encode: (m: T) => Uint8Array, decode: (b: Uint8Array | Uint8ArrayList) => T }
interface HopMsg { type?: string, peer?: { id: Uint8Array, addrs: Uint8Array[] }, status?: string }
interface StopMsg { type?: string, peer?: { id: Uint8Array, addrs: Uint8Array[] }, status?: string }
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as {
  HopMessage: Codec<HopMsg> & { Type: Record<'RESERVE' | 'CONNECT' | 'STATUS', string> }
  StopMessage: Codec<StopMsg> & { Type: Record<'CONNECT' | 'STATUS', string> }
  Status: Record<'OK', string>
}

const logger = defaultLogger()
const log = logger.forComponent('bench:relay-load')

/** A TCP socket as the MessageStream Noise and Yamux read and write (what @libp2p/tcp does for a libp2p node). */
class SocketConnection extends AbstractMultiaddrConnection {
  private readonly socket: Socket
  constructor (init: Omit<AbstractMultiaddrConnectionInit, 'remoteAddr' | 'direction' | 'log'> & { socket: Socket }) {
    super({ ...init, remoteAddr: ipPortToMultiaddr(init.socket.remoteAddress ?? '127.0.0.1', init.socket.remotePort ?? 0), direction: 'outbound', log, inactivityTimeout: 0 })
    this.socket = init.socket
    this.socket.on('data', buf => { this.onData(buf) })
    this.socket.on('error', err => { this.abort(err) })
    this.socket.once('end', () => { this.onTransportClosed() })
    this.socket.once('close', () => { this.onTransportClosed() })
    this.socket.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  sendData (data: Uint8ArrayList): SendResult {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (_options?: AbortOptions): Promise<void> {
    this.socket.destroySoon()
  }

  sendReset (): void {
    this.socket.resetAndDestroy()
  }

  sendPause (): void {
    this.socket.pause()
  }

  sendResume (): void {
    this.socket.resume()
  }
}

/** Noise needs the upgrader only for the muxers it may announce in its handshake: none here (Yamux is selected after). */
const upgrader = { getStreamMuxers: () => new Map() } as unknown as Upgrader
const muxers = yamux()()

interface Client { peerId: PeerId, muxer: StreamMuxer, socket: Socket }
const clients: Client[] = []
let nextAddress = 0

function sourceAddress (n: number): string {
  return `127.${POOL}.${Math.floor(n / 250) % 256}.${n % 250 + 2}`
}

/** A new identity connected to the relay over Noise + Yamux; inbound STOP streams echo. */
async function connectClient (): Promise<Client> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const socket = connect({ host: tcpPart.host, port: tcpPart.port, localAddress: sourceAddress(nextAddress++) })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  try {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    const raw = new SocketConnection({ socket })
    await select(raw, '/noise', { signal })
    const encrypter = noise()({ peerId, privateKey, logger, upgrader })
    const secured = await encrypter.secureOutbound(raw, { remotePeer: relayPeer, signal, skipStreamMuxerNegotiation: true })
    await select(secured.connection, muxers.protocol, { signal })
    const muxer = muxers.createStreamMuxer(secured.connection)
    muxer.addEventListener('stream', evt => { void answerInbound(evt.detail) })
    const client = { peerId, muxer, socket }
    return client
  } catch (err) {
    socket.destroy()
    throw err
  }
}

/** The relay's streams to us: STOP CONNECT is answered OK and the circuit echoes; anything else gets "na". */
async function answerInbound (stream: Stream): Promise<void> {
  try {
    await handle(stream, [STOP], { signal: AbortSignal.timeout(TIMEOUT_MS) })
    const stop = pbStream(stream).pb(pb.StopMessage)
    const msg = await stop.read({ signal: AbortSignal.timeout(TIMEOUT_MS) })
    if (msg.type !== pb.StopMessage.Type.CONNECT) throw new Error(`unexpected STOP ${String(msg.type)}`)
    await stop.write({ type: pb.StopMessage.Type.STATUS, status: pb.Status.OK })
    const circuit = stop.unwrap().unwrap()
    circuit.addEventListener('message', evt => { circuit.send(evt.data) })
  } catch (err) {
    stream.abort(err as Error)
  }
}

async function hop (client: Client, msg: HopMsg): Promise<Stream> {
  const signal = AbortSignal.timeout(TIMEOUT_MS)
  const stream = await client.muxer.createStream({ signal })
  await select(stream, HOP, { signal })
  const hopStream = pbStream(stream).pb(pb.HopMessage)
  await hopStream.write(msg, { signal })
  const answer = await hopStream.read({ signal })
  if (answer.type !== pb.HopMessage.Type.STATUS || answer.status !== pb.Status.OK) {
    stream.abort(new Error('refused'))
    throw new Error(`RELAY_REFUSED: ${String(answer.status ?? answer.type)}`)
  }
  return hopStream.unwrap().unwrap()
}

const reserved: Client[] = []
const circuits: Stream[] = []
let reserveFailed = 0
let circuitFailed = 0

function countError (errors: Record<string, number>, err: unknown): void {
  const key = String((err as Error).message ?? err).split('\n')[0]?.slice(0, 100) ?? 'unknown'
  errors[key] = (errors[key] ?? 0) + 1
}

async function pool (count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
    while (next < count) await fn(next++)
  }))
}

async function reserve (total: number): Promise<Record<string, unknown>> {
  const errors: Record<string, number> = {}
  const t0 = performance.now()
  let ok = 0
  let failed = 0
  const want = Math.max(0, total - reserved.length - reserveFailed)
  await pool(want, async () => {
    let client: Client | undefined
    try {
      client = await connectClient()
      clients.push(client)
      const stream = await hop(client, { type: pb.HopMessage.Type.RESERVE })
      await stream.close().catch(() => {})
      reserved.push(client)
      ok++
    } catch (err) {
      failed++
      countError(errors, err)
    }
  })
  reserveFailed += failed
  return { type: 'reserved', total: reserved.length, ok, failed, errors, ms: performance.now() - t0, rssMb: process.memoryUsage().rss / 1e6 }
}

async function openCircuits (total: number): Promise<Record<string, unknown>> {
  const errors: Record<string, number> = {}
  const t0 = performance.now()
  let ok = 0
  let failed = 0
  const payload = new Uint8Array(BYTES).fill(7)
  const start = circuits.length + circuitFailed
  const want = Math.max(0, Math.min(total, reserved.length) - start)
  await pool(want, async k => {
    const target = reserved[start + k]
    if (target === undefined) return
    try {
      const client = await connectClient()
      clients.push(client)
      const circuit = await hop(client, { type: pb.HopMessage.Type.CONNECT, peer: { id: target.peerId.toMultihash().bytes, addrs: [] } })
      let got = 0
      const echoed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error('no echo within 30 s')) }, TIMEOUT_MS)
        circuit.addEventListener('message', evt => {
          got += evt.data.byteLength
          if (got >= payload.byteLength) { clearTimeout(timer); resolve() }
        })
        circuit.addEventListener('close', () => { clearTimeout(timer); if (got < payload.byteLength) reject(new Error('circuit closed before the echo')) })
      })
      circuit.send(payload)
      await echoed
      circuits.push(circuit)
      ok++
    } catch (err) {
      failed++
      countError(errors, err)
    }
  })
  circuitFailed += failed
  const open = circuits.filter(c => c.status === 'open').length
  return { type: 'circuits', total: circuits.length, open, ok, failed, errors, ms: performance.now() - t0, rssMb: process.memoryUsage().rss / 1e6 }
}

report({ type: 'ready' })
const rl = createInterface({ input: process.stdin })
let queue = Promise.resolve()
rl.on('line', line => {
  const [cmd, n] = line.trim().split(/\s+/)
  const total = Number(n)
  queue = queue.then(async () => {
    if (!Number.isInteger(total) || total < 0) { report({ type: 'error', error: `BAD_COMMAND: ${line}` }); return }
    if (cmd === 'reserve') report(await reserve(total))
    else if (cmd === 'circuits') report(await openCircuits(total))
    else report({ type: 'error', error: `BAD_COMMAND: ${line} (reserve N | circuits N)` })
  }).catch(err => { report({ type: 'error', error: (err as Error).message }) })
})
rl.on('close', () => {
  for (const c of clients) c.socket.destroy()
  process.exit(0)
})
process.once('SIGTERM', () => {
  for (const c of clients) c.socket.destroy()
  process.exit(0)
})
