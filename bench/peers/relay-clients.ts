/**
 * Helper for bench/relay.ts: many light relay clients in one process. Each is a minimal
 * js-libp2p node (TCP, Noise, Yamux, identify, the circuit relay transport) whose TCP
 * connections leave from its own loopback address (127.<pool>.x.y), so the relay sees one
 * IP per client, as it would on the internet, and no per-IP limit or rate applies.
 *
 *   --relay MA --count K --pool P
 *     K clients each reserve a slot on the relay (listen on MA/p2p-circuit), at most 8 at
 *     once (libp2p's default cap on pending inbound connections is 10). Reports {type:'reserved', ok, failed, errors, ms, addrs: [relayed address of each]}.
 *   --relay MA --count K --pool P --dial TARGETS_FILE --bytes B
 *     K clients without reservations; client i dials relayed address i of the file, opens an
 *     echo stream, sends B bytes and waits for them to come back, then keeps the circuit
 *     open. Reports {type:'circuits', ok, failed, errors, ms}.
 * Runs until killed.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { report, sleep } from '../proc.ts'
import type { Libp2p, Stream } from '@libp2p/interface'

export const CIRCUIT_ECHO = '/burrow/bench/relay-echo/1.0.0'

const { values: opts } = parseArgs({
  options: {
    relay: { type: 'string' },
    count: { type: 'string', default: '10' },
    pool: { type: 'string', default: '1' },
    dial: { type: 'string' },
    bytes: { type: 'string', default: '1024' },
    concurrency: { type: 'string', default: '8' }
  }
})
const K = Number(opts.count)
const POOL = Number(opts.pool)
const CONCURRENCY = Number(opts.concurrency)
const relay = multiaddr(opts.relay ?? '')
const dialer = opts.dial !== undefined

function localAddress (i: number): string {
  const n = i
  return `127.${POOL}.${Math.floor(n / 250)}.${n % 250 + 2}`
}

/** net.connect options binding the source address (@libp2p/tcp passes dialOpts through to net.connect) */
function sourceAddress (i: number): TcpDialOpts {
  return { localAddress: localAddress(i) } as unknown as TcpDialOpts
}
type TcpDialOpts = NonNullable<NonNullable<Parameters<typeof tcp>[0]>['dialOpts']>

async function pool<T> (items: T[], limit: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      const item = items[i]
      if (item !== undefined) await fn(item, i)
    }
  }))
}

function countErrors (errors: Record<string, number>, err: unknown): void {
  const key = ((err as Error).name ?? 'Error') + ': ' + String((err as Error).message ?? err).split('\n')[0]?.slice(0, 80)
  errors[key] = (errors[key] ?? 0) + 1
}

const nodes: Libp2p[] = []
const errors: Record<string, number> = {}
let ok = 0
let failed = 0
const t0 = performance.now()
const addrs: string[] = []
await pool(Array.from({ length: K }, (_, i) => i), CONCURRENCY, async i => {
  try {
    const node = await createLibp2p({
      // listening on RELAY/p2p-circuit is what makes the reservation (circuit relay v2 client)
      addresses: { listen: dialer ? [] : [relay.encapsulate('/p2p-circuit').toString()] },
      transports: [tcp({ dialOpts: sourceAddress(i) }), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      connectionManager: { inboundConnectionThreshold: 1e6, maxIncomingPendingConnections: 1000 },
      start: false
    })
    nodes.push(node)
    await node.handle(CIRCUIT_ECHO, async (stream: Stream) => {
      try {
        for await (const chunk of stream) stream.send(chunk)
        await stream.close()
      } catch (err) { stream.abort(err as Error) }
    }, { runOnLimitedConnection: true })
    const relayed = (): string | undefined => node.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit'))?.toString()
    const reserved = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no reservation within 30 s')) }, 30_000)
      node.addEventListener('self:peer:update', () => {
        const a = relayed()
        if (a !== undefined) { clearTimeout(timer); resolve(a) }
      })
    })
    await node.start()
    if (dialer) {
      reserved.catch(() => {})
      ok++
      return
    }
    const mine = relayed() ?? await reserved
    addrs[i] = mine.toString()
    ok++
  } catch (err) {
    failed++
    countErrors(errors, err)
  }
}).catch(err => { countErrors(errors, err) })
if (!dialer) report({ type: 'reserved', ok, failed, errors, ms: performance.now() - t0, addrs: addrs.filter(a => a !== undefined), rss: process.memoryUsage().rss })

if (opts.dial !== undefined) {
  const targets = JSON.parse(readFileSync(opts.dial, 'utf8')) as string[]
  const payload = new Uint8Array(Number(opts.bytes)).fill(3)
  let cOk = 0
  let cFailed = 0
  const cErrors: Record<string, number> = {}
  const streams: Stream[] = []
  const t1 = performance.now()
  await pool(targets, CONCURRENCY, async (target, i) => {
    const node = nodes[i % nodes.length]
    if (node === undefined) return
    try {
      const stream = await node.dialProtocol(multiaddr(target), CIRCUIT_ECHO, { runOnLimitedConnection: true, signal: AbortSignal.timeout(30_000) })
      let got = 0
      const back = new Promise<void>((resolve, reject) => {
        stream.addEventListener('message', evt => { got += evt.data.byteLength; if (got >= payload.byteLength) resolve() })
        stream.addEventListener('close', () => { if (got < payload.byteLength) reject(new Error('circuit closed early')) })
      })
      stream.send(payload)
      await Promise.race([back, sleep(30_000).then(() => { throw new Error('no echo within 30 s') })])
      streams.push(stream)
      cOk++
    } catch (err) {
      cFailed++
      countErrors(cErrors, err)
    }
  })
  report({ type: 'circuits', ok: cOk, failed: cFailed, errors: cErrors, ms: performance.now() - t1 })
}

const stop = (): void => { void Promise.allSettled(nodes.map(async n => { await n.stop() })).finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
setInterval(() => {}, 1 << 30)
