/**
 * `message-rate`: the message protocol's own rate on loopback (issue 12): messages/s with
 * small messages and MB/s with large ones, from one peer (one stream) and from 10 peers at
 * once, into one receiving node. Every message is a full `node.send()`: written to the
 * sender's outbox, framed, stored in the receiver's inbox (LevelDB) and acked. Two processes
 * (bench/peers/msgrate-peer.ts): the receiver, and one process holding all the senders.
 */
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import { runHelper, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

interface Plan { reps: number, peers: number, count: number, countMany: number, smallBytes: number, largeBytes: number, largeCount: number }
const PLANS: Record<Size, Plan> = {
  smoke: { reps: 1, peers: 3, count: 4, countMany: 1, smallBytes: 256, largeBytes: 64 * 1024, largeCount: 2 },
  quick: { reps: 3, peers: 10, count: 200, countMany: 20, smallBytes: 256, largeBytes: 256 * 1024, largeCount: 20 },
  full: { reps: 5, peers: 10, count: 1000, countMany: 100, smallBytes: 256, largeBytes: 256 * 1024, largeCount: 50 }
}

/** messages in flight per sender: the message protocol's own cap (MAX_CONCURRENT_SENDS_PER_PEER) */
const CONCURRENCY = 8

interface Done { ms: number, messages: number, bytes: number }

export const messageRate: Benchmark = {
  name: 'message-rate',
  title: 'Message protocol: messages/s and MB/s, one peer and 10 peers, loopback',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    // senders in the many-peers case (fewer in the smoke run: each is a node to start)
    const manyPeers = plan.peers
    const cases = [
      { key: 'one-peer.small', label: `1 peer, ${plan.smallBytes} B messages`, peers: 1, count: plan.count, bytes: plan.smallBytes },
      { key: 'many-peers.small', label: `${manyPeers} peers at once, ${plan.smallBytes} B messages`, peers: manyPeers, count: plan.countMany, bytes: plan.smallBytes },
      { key: 'one-peer.large', label: `1 peer, ${plan.largeBytes / 1024} KiB messages`, peers: 1, count: plan.largeCount, bytes: plan.largeBytes },
      { key: 'many-peers.large', label: `${manyPeers} peers at once, ${plan.largeBytes / 1024} KiB messages`, peers: manyPeers, count: Math.max(2, Math.round(plan.largeCount / manyPeers)), bytes: plan.largeBytes }
    ]
    const rates = new Map<string, { msgs: number[], mbs: number[] }>(cases.map(c => [c.key, { msgs: [], mbs: [] }]))
    for (let r = 0; r < plan.reps; r++) {
      // a fresh receiver per repetition: its inbox starts empty each time
      const server = await startHelper('msgrate-peer', ['serve', '--home', join(ctx.tmpDir, `msgrate-server-${r}`)])
      try {
        const { multiaddr } = await server.report<{ multiaddr: string }>('ready', 30_000)
        for (const c of cases) {
          ctx.log(`message-rate: rep ${r + 1}/${plan.reps}: ${c.label}`)
          const out = await runHelper('msgrate-peer', ['send', '--home', join(ctx.tmpDir, `msgrate-${r}-${c.key}`), '--target', multiaddr, '--peers', String(c.peers), '--count', String(c.count), '--bytes', String(c.bytes), '--concurrency', String(CONCURRENCY)], { timeoutMs: 300_000 })
          const done = out.find(x => x.type === 'done') as Done | undefined
          if (done === undefined) throw new Error(`${c.label}: the sender reported no result`)
          const s = done.ms / 1000
          rates.get(c.key)?.msgs.push(done.messages / s)
          rates.get(c.key)?.mbs.push(done.bytes / 1e6 / s)
        }
      } finally {
        await server.stop()
      }
    }
    const figures: Figure[] = []
    for (const c of cases) {
      const v = rates.get(c.key)
      const small = c.bytes === plan.smallBytes
      figures.push({
        key: `message-rate.${c.key}`,
        label: `message protocol, ${c.label}, ${CONCURRENCY} in flight per peer`,
        unit: small ? 'msg/s' : 'MB/s',
        value: summarizeOrNull(small ? v?.msgs ?? [] : v?.mbs ?? [])
      })
    }
    const notes = ['every message is durable before its ack: the sender\'s outbox and the receiver\'s inbox are LevelDB batches with sync: true (an fsync each; the inbox commits concurrent arrivals as one group), so on a busy disk the flush rate, not the wire, sets these figures']
    return { status: 'ok', figures, notes, params: { ...plan, concurrency: CONCURRENCY } }
  }
}
