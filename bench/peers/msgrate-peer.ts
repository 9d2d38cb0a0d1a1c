/**
 * Helper for bench/message-rate.ts: the message protocol's own rate.
 *
 *   serve --home DIR
 *     one burrow node on 127.0.0.1 whose inbox takes everything (rate limit and quotas
 *     lifted for the bench); reports {type:'ready', multiaddr, peerId}; runs until killed.
 *
 *   send --home DIR --target MULTIADDR --peers N --count M --bytes B --concurrency C
 *     N burrow nodes (own identities and homes) each connect to the target and send one
 *     warm-up message, then all send M messages of B bytes at once, each peer with up to C
 *     in flight (node.send: outbox → frame → the peer stores it in its inbox → ack).
 *     Reports {type:'done', ms, messages, bytes} timed from the first send to the last ack.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../../dist/index.js'
import { report } from '../proc.ts'
import type { BurrowNode } from '../../dist/index.js'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    home: { type: 'string' },
    target: { type: 'string' },
    peers: { type: 'string', default: '1' },
    count: { type: 'string', default: '100' },
    bytes: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '8' }
  }
})

const BIG = 1_000_000_000

async function startNode (home: string): Promise<BurrowNode> {
  const node = await createNode({
    home,
    config: {
      network: 'bench',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [],
      portMapping: 'off',
      'messages.maxInboundPerSecond': BIG,
      'messages.inboxMaxBytes': BIG,
      'messages.inboxMaxCount': BIG,
      'messages.inboxMaxBytesPerSender': BIG,
      'messages.inboxMaxCountPerSender': BIG
    }
  })
  await node.start()
  return node
}

const home = opts.home ?? ''
if (positionals[0] === 'serve') {
  const node = await startNode(home)
  const addr = node.libp2p.getMultiaddrs()[0]
  report({ type: 'ready', multiaddr: addr?.toString(), peerId: node.libp2p.peerId.toString() })
  const stop = (): void => { void node.stop().finally(() => process.exit(0)) }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  setInterval(() => {}, 1 << 30)
} else if (positionals[0] === 'send') {
  const target = opts.target ?? ''
  const peerId = target.split('/p2p/')[1] ?? ''
  const n = Number(opts.peers)
  const count = Number(opts.count)
  const body = new Uint8Array(Number(opts.bytes)).fill(120)
  const concurrency = Number(opts.concurrency)
  const nodes = await Promise.all(Array.from({ length: n }, async (_, i) => startNode(join(home, `sender-${i}`))))
  try {
    // one after another, a little apart: libp2p takes at most 5 new connections a second from one host
    for (const node of nodes) {
      await node.libp2p.dial(multiaddr(target))
      await node.send(peerId, body)
      if (n > 1) await new Promise(resolve => setTimeout(resolve, 250))
    }
    const t0 = performance.now()
    await Promise.all(nodes.map(async node => {
      let next = 0
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++
          await node.send(peerId, body)
        }
      }))
    }))
    const ms = performance.now() - t0
    report({ type: 'done', ms, messages: n * count, bytes: n * count * body.byteLength })
  } finally {
    await Promise.all(nodes.map(async node => { await node.stop() }))
  }
  process.exit(0)
} else {
  console.error('usage: msgrate-peer.ts serve|send …')
  process.exit(2)
}
