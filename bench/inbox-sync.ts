/**
 * `node bench/inbox-sync.ts [--messages N] [--reps R]` (after `npm run build`): the cost of
 * syncing the inbox write before the ack (issue 10). Two Messaging nodes over TCP on
 * loopback, the receiver on LevelDB in a temp dir; N small messages one after another
 * (each waits for its ack: the latency a user sees) and N with 8 in flight (what one busy
 * sender gets). Prints messages per second, median of R repetitions. Run it against a
 * build before and after the change to compare; the numbers move with the disk.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { messaging as messagingService } from '../dist/messaging/index.js'
import type { Messaging } from '../dist/messaging/index.js'
import type { Datastore } from 'interface-datastore'

const { values } = parseArgs({ options: { messages: { type: 'string', default: '300' }, reps: { type: 'string', default: '3' } } })
const N = Number(values.messages)
const REPS = Number(values.reps)

async function peer (datastore: Datastore): Promise<{ stop: () => Promise<void>, messaging: Messaging, node: Awaited<ReturnType<typeof createLibp2p>> }> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    datastore,
    // messaging is a libp2p service: started and stopped with the node
    services: { identify: identify(), messaging: messagingService({ maxInboundPerSecond: 1e9 }) }
  })
  const messaging: Messaging = node.services.messaging
  return { node, messaging, stop: async () => { await node.stop() } }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

const sequential: number[] = []
const parallel: number[] = []
for (let rep = 0; rep < REPS; rep++) {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-bench-sync-'))
  const level = new LevelDatastore(join(dir, 'datastore'))
  await level.open()
  const bob = await peer(level)
  const alice = await peer(new MemoryDatastore())
  try {
    await alice.node.dial(bob.node.getMultiaddrs())
    const body = new Uint8Array(1024).fill(7)
    let t0 = performance.now()
    for (let i = 0; i < N; i++) await alice.messaging.send(bob.node.peerId, body, { id: `s-${rep}-${i}` })
    sequential.push(N / ((performance.now() - t0) / 1000))
    t0 = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = next++; i < N; i = next++) await alice.messaging.send(bob.node.peerId, body, { id: `p-${rep}-${i}` })
    }))
    parallel.push(N / ((performance.now() - t0) / 1000))
  } finally {
    await alice.stop()
    await bob.stop()
    await level.close()
    await rm(dir, { recursive: true, force: true })
  }
}
console.log(JSON.stringify({
  messages: N,
  reps: REPS,
  sequentialPerSecond: Math.round(median(sequential)),
  eightInFlightPerSecond: Math.round(median(parallel)),
  samples: { sequential: sequential.map(Math.round), eightInFlight: parallel.map(Math.round) }
}))
