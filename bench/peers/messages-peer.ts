/**
 * Helper for bench/messages.ts. Two modes, each in its own process (and, in the lab, its own
 * namespace), so both ends of every path have a core's worth of event loop:
 *
 *   serve   --ip IP --home DIR [--stock]
 *     a raw TCP echo server, a raw TCP sink, a burrow node (createNode, noise + yamux
 *     over TCP) with the message protocol plus two bench protocols: echo and sink, and (with
 *     --stock) a stock js-libp2p node (createLibp2p: TCP, Noise, Yamux, nothing else) with the sink.
 *     Reports {type:'ready', tcpEcho, tcpSink, multiaddr, peerId, stockMultiaddr}; runs
 *     until killed.
 *
 *   measure --ip IP --home DIR --target JSON --rtt N --bytes B --reps R [--stock]
 *     dials the server's burrow node, then R repetitions of, in this order: N round trips
 *     of 64 bytes over a raw TCP socket, over one burrow stream, and as burrow messages
 *     (send → ack); then B bytes into the raw TCP sink, into a burrow stream sink and (with
 *     --stock) into a stock js-libp2p stream sink (its own stock node dials the server's), each over one
 *     persistent connection / stream, with an 8-byte length first.
 *     Reports {type:'rep', ...} per repetition, then {type:'done'}.
 */
import { createServer, connect } from 'node:net'
import { parseArgs } from 'node:util'
import { createNode } from '../../dist/index.js'
import { report } from '../proc.ts'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Socket } from 'node:net'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { BurrowNode } from '../../dist/index.js'

export const ECHO_PROTOCOL = '/burrow/bench/echo/1.0.0'
export const SINK_PROTOCOL = '/burrow/bench/sink/1.0.0'
const CHUNK = 64 * 1024
const PING_BYTES = 64

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ip: { type: 'string', default: '127.0.0.1' },
    home: { type: 'string' },
    target: { type: 'string' },
    rtt: { type: 'string', default: '100' },
    bytes: { type: 'string', default: String(32 * 1024 * 1024) },
    reps: { type: 'string', default: '3' },
    // the stock js-libp2p baseline (loopback: the lab's documentation-range addresses are not
    // dialable by a stock node's default address filter)
    stock: { type: 'boolean', default: false }
  }
})

async function startBurrow (home: string, ip: string): Promise<BurrowNode> {
  const node = await createNode({
    home,
    config: {
      network: 'bench',
      listen: [`/ip4/${ip}/tcp/0`],
      bootstrap: [],
      // no UPnP/NAT-PMP probing of the host's real network: bench traffic stays on loopback or in the lab
      portMapping: 'off',
      'messages.maxInboundPerSecond': 1_000_000,
      'messages.maxBytes': 4 * 1024 * 1024
    }
  })
  await node.start()
  return node
}

/** A stock js-libp2p node with the same transport, encryption and muxer as burrow's, nothing else: the baseline of what the libp2p modules cost. */
async function startStock (ip: string): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [`/ip4/${ip}/tcp/0`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/**
 * The sink's side of a transfer on a persistent connection or stream: an 8-byte length,
 * then that many bytes; answered with the 8-byte count once they all arrived.
 */
class SinkCounter {
  private header = new Uint8Array(0)
  private remaining = -1
  private count = 0
  private readonly reply: (b: Uint8Array) => void

  constructor (reply: (b: Uint8Array) => void) {
    this.reply = reply
  }

  push (data: Uint8Array): void {
    let d = data
    while (d.byteLength > 0) {
      if (this.remaining < 0) {
        const need = 8 - this.header.byteLength
        this.header = Buffer.concat([this.header, d.subarray(0, need)])
        d = d.subarray(need)
        if (this.header.byteLength === 8) {
          this.remaining = Number(new DataView(this.header.buffer, this.header.byteOffset, 8).getBigUint64(0))
          this.count = 0
          this.header = new Uint8Array(0)
        }
        continue
      }
      const take = Math.min(this.remaining, d.byteLength)
      this.count += take
      this.remaining -= take
      d = d.subarray(take)
      if (this.remaining === 0) {
        this.remaining = -1
        this.reply(countOf(this.count))
      }
    }
  }
}

function countOf (n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

async function serve (): Promise<void> {
  const ip = opts.ip ?? '127.0.0.1'
  const echo = createServer(sock => {
    sock.setNoDelay(true)
    sock.pipe(sock)
    sock.on('error', () => {})
  })
  const sink = createServer(sock => {
    const counter = new SinkCounter(reply => { sock.write(reply) })
    sock.on('data', (d: Buffer) => { counter.push(d) })
    sock.on('error', () => {})
  })
  await Promise.all([echo, sink].map(async s => { await new Promise<void>(resolve => s.listen(0, ip, resolve)) }))
  const node = await startBurrow(opts.home ?? '', ip)
  await node.libp2p.handle(ECHO_PROTOCOL, async (stream: Stream) => {
    try {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain()
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  })
  const sinkHandler = async (stream: Stream): Promise<void> => {
    try {
      const counter = new SinkCounter(reply => { stream.send(reply) })
      for await (const chunk of stream) counter.push(chunk.subarray())
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }
  await node.libp2p.handle(SINK_PROTOCOL, sinkHandler)
  const stock = opts.stock === true ? await startStock(ip) : undefined
  await stock?.handle(SINK_PROTOCOL, sinkHandler)
  const port = (s: typeof echo): number => { const a = s.address(); return typeof a === 'object' && a !== null ? a.port : 0 }
  report({
    type: 'ready',
    tcpEcho: port(echo),
    tcpSink: port(sink),
    peerId: node.peerId.toString(),
    // listen addresses: libp2p announces a public-looking (lab) address only once AutoNAT confirmed it
    multiaddr: `${(await node.status()).addresses.listen[0] ?? ''}/p2p/${node.peerId.toString()}`,
    stockMultiaddr: stock?.getMultiaddrs()[0]?.toString() ?? ''
  })
  const stop = (): void => {
    echo.close()
    sink.close()
    void Promise.allSettled([node.stop(), stock?.stop()]).finally(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

// --- measuring -------------------------------------------------------------------------

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] ?? 0 : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2
}

async function tcpConnect (ip: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ip, port, noDelay: true }, () => { resolve(s) })
    s.once('error', reject)
  })
}

/** n round trips of PING_BYTES over one TCP connection; the RTTs in ms. */
async function tcpRtts (ip: string, port: number, n: number): Promise<number[]> {
  const sock = await tcpConnect(ip, port)
  const out: number[] = []
  const payload = Buffer.alloc(PING_BYTES, 7)
  let got = 0
  let wake: (() => void) | undefined
  sock.on('data', (d: Buffer) => { got += d.length; wake?.() })
  for (let i = 0; i < n; i++) {
    got = 0
    const t0 = performance.now()
    const back = new Promise<void>(resolve => { wake = () => { if (got >= PING_BYTES) resolve() } })
    sock.write(payload)
    await back
    out.push(performance.now() - t0)
  }
  sock.destroy()
  return out
}

/** n round trips of PING_BYTES over one burrow stream (echo protocol). */
async function streamRtts (node: BurrowNode, peer: string, n: number): Promise<number[]> {
  const conn = node.libp2p.getConnections().find(c => c.remotePeer.toString() === peer)
  if (conn === undefined) throw new Error('not connected to the server')
  const stream = await conn.newStream(ECHO_PROTOCOL)
  const out: number[] = []
  const payload = new Uint8Array(PING_BYTES).fill(7)
  let got = 0
  let wake: (() => void) | undefined
  stream.addEventListener('message', evt => { got += evt.data.byteLength; wake?.() })
  for (let i = 0; i < n; i++) {
    got = 0
    const t0 = performance.now()
    const back = new Promise<void>(resolve => { wake = () => { if (got >= PING_BYTES) resolve() } })
    stream.send(payload)
    await back
    out.push(performance.now() - t0)
  }
  await stream.close()
  return out
}

/** n messages of PING_BYTES with node.send(), each timed from the call to the ack. */
async function messageRtts (node: BurrowNode, peer: string, n: number): Promise<number[]> {
  const out: number[] = []
  const body = new Uint8Array(PING_BYTES).fill(7)
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await node.send(peer, body) // resolves only on an OK ack; throws otherwise
    out.push(performance.now() - t0)
  }
  return out
}

/** Mbit/s of pushing `bytes` into the TCP sink on a persistent connection, until its count comes back. */
async function tcpThroughput (sock: Socket, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK, 1)
  const total = Math.ceil(bytes / CHUNK) * CHUNK
  const t0 = performance.now()
  const counted = new Promise<number>((resolve, reject) => {
    let parts = Buffer.alloc(0)
    const onData = (d: Buffer): void => {
      parts = Buffer.concat([parts, d])
      if (parts.length >= 8) { sock.off('data', onData); resolve(Number(parts.readBigUInt64BE(0))) }
    }
    sock.on('data', onData)
    sock.once('error', reject)
  })
  sock.write(countOf(total))
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!sock.write(chunk)) await new Promise(resolve => sock.once('drain', resolve))
  }
  const n = await counted
  const ms = performance.now() - t0
  if (n !== total) throw new Error(`tcp sink counted ${n} of ${total} bytes`)
  return n * 8 / 1e6 / (ms / 1000)
}

/** Mbit/s of pushing `bytes` into the sink over one persistent burrow stream, until its count comes back. */
async function streamThroughput (stream: Stream, bytes: number): Promise<number> {
  const chunk = new Uint8Array(CHUNK).fill(1)
  const total = Math.ceil(bytes / CHUNK) * CHUNK
  const t0 = performance.now()
  const counted = new Promise<number>((resolve, reject) => {
    let parts = Buffer.alloc(0)
    const onMessage = (evt: { data: { subarray: () => Uint8Array } }): void => {
      parts = Buffer.concat([parts, evt.data.subarray()])
      if (parts.length >= 8) { stream.removeEventListener('message', onMessage); resolve(Number(parts.readBigUInt64BE(0))) }
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', () => { reject(new Error('sink stream closed')) }, { once: true })
  })
  if (!stream.send(countOf(total))) await stream.onDrain()
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  const n = await counted
  const ms = performance.now() - t0
  if (n !== total) throw new Error(`stream sink counted ${n} of ${total} bytes`)
  return n * 8 / 1e6 / (ms / 1000)
}

async function measure (): Promise<void> {
  const target = JSON.parse(opts.target ?? '{}') as { ip: string, tcpEcho: number, tcpSink: number, multiaddr: string, peerId: string, stockMultiaddr: string }
  const n = Number(opts.rtt)
  const bytes = Number(opts.bytes)
  const reps = Number(opts.reps)
  const node = await startBurrow(opts.home ?? '', opts.ip ?? '127.0.0.1')
  const stock = opts.stock === true ? await startStock(opts.ip ?? '127.0.0.1') : undefined
  try {
    await node.dial(target.multiaddr)
    const conn = node.libp2p.getConnections().find(c => c.remotePeer.toString() === target.peerId)
    if (conn === undefined) throw new Error('not connected to the server')
    // both sinks: one persistent connection / stream each, so neither pays a handshake or slow start per transfer
    const tcpSink = await tcpConnect(target.ip, target.tcpSink)
    const sinkStream = await conn.newStream(SINK_PROTOCOL)
    const stockStream = stock === undefined ? undefined : await stock.dialProtocol(multiaddr(target.stockMultiaddr), SINK_PROTOCOL)
    // warm-up: JIT, the message protocol's first stream, socket buffers, congestion windows
    await tcpRtts(target.ip, target.tcpEcho, 20)
    await streamRtts(node, target.peerId, 20)
    await messageRtts(node, target.peerId, 10)
    await tcpThroughput(tcpSink, Math.min(bytes, 16 * CHUNK))
    await streamThroughput(sinkStream, Math.min(bytes, 16 * CHUNK))
    if (stockStream !== undefined) await streamThroughput(stockStream, Math.min(bytes, 16 * CHUNK))
    for (let rep = 0; rep < reps; rep++) {
      const tcp = await tcpRtts(target.ip, target.tcpEcho, n)
      const stream = await streamRtts(node, target.peerId, n)
      const message = await messageRtts(node, target.peerId, n)
      const tcpMbit = await tcpThroughput(tcpSink, bytes)
      const streamMbit = await streamThroughput(sinkStream, bytes)
      const stockMbit = stockStream === undefined ? undefined : await streamThroughput(stockStream, bytes)
      report({
        type: 'rep',
        rep,
        tcpRttMs: median(tcp),
        streamRttMs: median(stream),
        messageRttMs: median(message),
        tcpMbit,
        streamMbit,
        stockMbit
      })
    }
    tcpSink.destroy()
    await sinkStream.close()
    await stockStream?.close()
    report({ type: 'done' })
  } finally {
    await Promise.allSettled([node.stop(), stock?.stop()])
  }
}

if (positionals[0] === 'serve') {
  await serve()
} else if (positionals[0] === 'measure') {
  await measure()
  process.exit(0)
} else {
  console.error('usage: messages-peer.ts serve|measure ...')
  process.exit(2)
}
