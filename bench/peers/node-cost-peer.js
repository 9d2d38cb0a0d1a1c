/**
 * Helper for bench/node-cost.ts: starts one node and keeps it idle until killed.
 *
 *   --kind burrow --home DIR   createNode() + start(): burrow as a library
 *   --kind stock               createLibp2p() with the same transports (TCP, Noise, Yamux),
 *                              identify and ping, in-memory datastore: a stock js-libp2p node
 *
 * Both listen on 127.0.0.1 and bootstrap from nobody. Reports {type:'ready', importMs,
 * startMs, rss}: the time to import the modules, the time from the factory call to a
 * listening node, and the RSS right after start.
 *
 * Plain JavaScript on purpose: Node's TypeScript loader (type stripping) alone adds about
 * 14 MB of RSS to a process, which would be charged to both nodes.
 */
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({ options: { kind: { type: 'string' }, home: { type: 'string' } } })
const LISTEN = '/ip4/127.0.0.1/tcp/0'

let stop
const t0 = performance.now()
let importMs
let startMs
if (opts.kind === 'burrow') {
  const { createNode } = await import('../../dist/index.js')
  importMs = performance.now() - t0
  const t1 = performance.now()
  const node = await createNode({ home: opts.home, config: { network: 'bench', listen: [LISTEN], bootstrap: [], portMapping: 'off' } })
  await node.start()
  if (node.libp2p.getMultiaddrs().length === 0) throw new Error('burrow is not listening')
  startMs = performance.now() - t1
  stop = async () => { await node.stop() }
} else if (opts.kind === 'stock') {
  const [{ createLibp2p }, { tcp }, { noise }, { yamux }, { identify }, { ping }] = await Promise.all([
    import('libp2p'), import('@libp2p/tcp'), import('@chainsafe/libp2p-noise'), import('@chainsafe/libp2p-yamux'),
    import('@libp2p/identify'), import('@libp2p/ping')
  ])
  importMs = performance.now() - t0
  const t1 = performance.now()
  const node = await createLibp2p({
    addresses: { listen: [LISTEN] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
  if (node.getMultiaddrs().length === 0) throw new Error('stock libp2p is not listening')
  startMs = performance.now() - t1
  stop = async () => { await node.stop() }
} else {
  console.error('usage: node-cost-peer.ts --kind burrow|stock [--home DIR]')
  process.exit(2)
}
process.stdout.write(`@bench ${JSON.stringify({ type: 'ready', importMs, startMs, rss: process.memoryUsage().rss })}\n`)
const onSignal = () => { void stop().finally(() => process.exit(0)) }
process.once('SIGTERM', onSignal)
process.once('SIGINT', onSignal)
setInterval(() => {}, 1 << 30)
