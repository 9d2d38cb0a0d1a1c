/**
 * Helper for bench/soak.ts: one burrow node of the soak, in its own process (so its RSS is
 * its own), on 127.0.0.1.
 *
 *   --index I --peers N --dir D --home H --messages M --seconds S --churn-ms C
 *
 * Writes D/peer-I.json ({peerId, addr}) and waits for the other N−1 peers' files, stores
 * their addresses, then sends M messages spread evenly over S seconds, round robin over the
 * others (`node.send()`, body `I:k`, message id `soak-I-k`, at most 16 in flight). Every C ms
 * (per peer, jittered) it closes one of its open connections, so later sends must redial.
 * A send that fails stays in the outbox and is retried by burrow; once every send settled,
 * the peer waits until its outbox holds nothing pending and reports
 * {type:'sent', sent: {J: count}, acked, rejected, pending, failed, churned}. It keeps
 * receiving until D/finish exists, then reports
 * {type:'final', received: {J: distinct count}, duplicates, inboxDuplicates, inboxStored} and
 * exits. Received messages are counted from the 'message' event (what an application sees):
 * the same body twice is a duplicate. Every 5 s the peer reads and clears its inbox, as an
 * application would (the per-sender quota is 1,000), and counts a body stored twice.
 * With `--heap-ms H` it reports {type:'heap', atMs, mb, parts} every H ms, read right after one
 * memory-reducing full GC (src/memory's compactHeap, the daemon's own at idle: V8 collects,
 * then gives back the heap capacity it holds beyond the live objects): `mb` is heapUsed, the
 * live heap; `parts` (MB) splits the process's memory at that moment: rss (the settled RSS),
 * rssAnon and rssFile (/proc/self/status), heapTotal (V8's heap capacity) and heapPhysical (its
 * resident part, v8.getHeapStatistics()), external and arrayBuffers (process.memoryUsage()). On SIGUSR2 it writes a heap snapshot
 * (after a full GC) to D/peer-I-n.heapsnapshot and reports {type:'snapshot', file}.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../../dist/index.js'
import { compactHeap } from '../../dist/memory/index.js'
import { report, sleep } from '../proc.ts'

const { values: opts } = parseArgs({
  options: {
    index: { type: 'string', default: '0' },
    peers: { type: 'string', default: '10' },
    dir: { type: 'string' },
    home: { type: 'string' },
    messages: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '120' },
    'churn-ms': { type: 'string', default: '5000' },
    'heap-ms': { type: 'string', default: '0' }
  }
})
const I = Number(opts.index)
const N = Number(opts.peers)
const M = Number(opts.messages)
const SECONDS = Number(opts.seconds)
const CHURN_MS = Number(opts['churn-ms'])
const HEAP_MS = Number(opts['heap-ms'])
const DIR = opts.dir ?? ''
const IN_FLIGHT = 16
const DRAIN_TIMEOUT_MS = 120_000

const node = await createNode({
  home: opts.home,
  config: {
    network: 'bench-soak',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    // bench traffic stays on loopback: no UPnP/NAT-PMP probing, nothing to punch or relay
    portMapping: 'off',
    holePunch: false,
    udpPunch: false,
    relayServer: 'off',
    'relay.reservations': 0,
    // 10 peers on one IP: the per-peer inbound rate is not what this measures
    'messages.maxInboundPerSecond': 1_000_000
  }
})

/**
 * Which (sender, k) were seen, as one bitmap per sender allocated up front: constant
 * memory, so the bench's own bookkeeping does not show up in the RSS slope it measures.
 */
class Seen {
  private readonly bits = Array.from({ length: N }, () => new Uint8Array(Math.ceil(M / 8)))
  readonly counts = new Array<number>(N).fill(0)
  duplicates = 0
  /** false for a body that is not `s:k` within range */
  add (body: Uint8Array): boolean {
    const [s, k] = new TextDecoder().decode(body).split(':').map(Number)
    if (s === undefined || k === undefined || !Number.isInteger(s) || !Number.isInteger(k) || s < 0 || s >= N || k < 0 || k >= M) return false
    const map = this.bits[s]
    if (map === undefined) return false
    const bit = 1 << (k & 7)
    if (((map[k >> 3] ?? 0) & bit) !== 0) {
      this.duplicates++
    } else {
      map[k >> 3] = (map[k >> 3] ?? 0) | bit
      this.counts[s] = (this.counts[s] ?? 0) + 1
    }
    return true
  }
}
const events = new Seen()
const stored = new Seen()
let malformed = 0
node.addEventListener('message', evt => { if (!events.add(evt.detail.body)) malformed++ })

/** As an application does: read the inbox, then clear what was read (the per-sender quota is 1,000 messages). */
async function drainInbox (): Promise<void> {
  const got = await node.inbox({ limit: 1000 })
  if (got.length === 0) return
  for (const m of got) stored.add(m.body)
  await node.clearInbox({ beforeMs: Math.max(...got.map(m => m.receivedAtMs)) + 1 })
}

await node.start()
const self = { peerId: node.peerId.toString(), addr: (await node.status()).addresses.listen[0] ?? '' }
writeFileSync(join(DIR, `peer-${I}.json.tmp`), JSON.stringify(self))
// rename is atomic: the others never read half a file
const { renameSync } = await import('node:fs')
renameSync(join(DIR, `peer-${I}.json.tmp`), join(DIR, `peer-${I}.json`))
report({ type: 'ready', ...self })

const others: Array<{ index: number, peerId: string }> = []
const deadline = Date.now() + 120_000
for (let j = 0; j < N; j++) {
  if (j === I) continue
  const file = join(DIR, `peer-${j}.json`)
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`peer ${j} did not start within 120 s`)
    await sleep(100)
  }
  const p = JSON.parse(readFileSync(file, 'utf8')) as { peerId: string, addr: string }
  await node.libp2p.peerStore.merge(peerIdFromString(p.peerId), { multiaddrs: [multiaddr(p.addr)] })
  others.push({ index: j, peerId: p.peerId })
}

/** `--expose-gc`: a full GC, for the heap snapshot */
const gc = (globalThis as { gc?: () => void }).gc
/** Where the process's memory is, in MB: resident anonymous and file-backed pages, V8's heap capacity, memory outside it */
function memoryParts (rss: number): Record<string, number> {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN) * 1024 / 1e6
  const m = process.memoryUsage()
  const v8 = getHeapStatistics()
  return { rss: rss / 1e6, rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), heapTotal: m.heapTotal / 1e6, heapPhysical: v8.total_physical_size / 1e6, external: m.external / 1e6, arrayBuffers: m.arrayBuffers / 1e6 }
}
// every HEAP_MS, after a memory-reducing full GC: the live heap and the settled RSS, so the
// runner can tell memory the process keeps (a leak) from V8 letting garbage and heap capacity
// come and go (the raw RSS swings 20–35 MB as V8 grows and shrinks its heap), and where the rest is
function settledReport (): void {
  const settled = compactHeap()
  if (settled === null) throw new Error('soak peer: V8 offers no gc function for the settled memory readings')
  report({ type: 'heap', atMs: Date.now(), mb: process.memoryUsage().heapUsed / 1e6, parts: memoryParts(settled.rssAfter) })
}
const heapTimer = HEAP_MS > 0 ? setInterval(settledReport, HEAP_MS) : undefined
// SIGUSR2: a heap snapshot in DIR (after a full GC), to compare what grows between two
let snapshots = 0
process.on('SIGUSR2', () => {
  gc?.()
  const file = writeHeapSnapshot(join(DIR, `peer-${I}-${++snapshots}.heapsnapshot`))
  report({ type: 'snapshot', file })
})

let draining: Promise<void> = Promise.resolve()
const drainer = setInterval(() => { draining = draining.then(drainInbox).catch(err => { process.stderr.write(`inbox: ${(err as Error).message}\n`) }) }, 5000)

// churn: close one open connection every CHURN_MS (jittered), while sending
let churned = 0
let sending = true
const churn = (async () => {
  while (sending) {
    await sleep(CHURN_MS * (0.5 + Math.random()))
    const conns = node.libp2p.getConnections()
    const victim = conns[Math.floor(Math.random() * conns.length)]
    if (victim === undefined || !sending) continue
    await victim.close().catch(() => {})
    churned++
  }
})()

const sent: Record<number, number> = {}
let acked = 0
let rejected = 0
const inFlight = new Set<Promise<void>>()
const t0 = Date.now()
const spacing = SECONDS * 1000 / Math.max(1, M)
for (let k = 0; k < M; k++) {
  const due = t0 + k * spacing
  if (due > Date.now()) await sleep(due - Date.now())
  while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
  const to = others[k % others.length]
  if (to === undefined) break
  sent[to.index] = (sent[to.index] ?? 0) + 1
  const p = node.send(to.peerId, `${I}:${k}`, { id: `soak-${I}-${k}` })
    .then(() => { acked++ }, () => { rejected++ })
    .finally(() => { inFlight.delete(p) })
  inFlight.add(p)
}
await Promise.all(inFlight)
sending = false
// rejected sends stay in the outbox: wait for burrow's retries to deliver them
const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS
let outbox = await node.outbox()
while (outbox.some(e => e.state === 'pending') && Date.now() < drainDeadline) {
  await sleep(500)
  outbox = await node.outbox()
}
await churn
report({
  type: 'sent',
  sent,
  acked,
  rejected,
  pending: outbox.filter(e => e.state === 'pending').length,
  failed: outbox.filter(e => e.state === 'failed').length,
  churned
})

while (!existsSync(join(DIR, 'finish'))) await sleep(200)
clearInterval(drainer)
if (heapTimer !== undefined) clearInterval(heapTimer)
await draining
await drainInbox()
report({
  type: 'final',
  received: Object.fromEntries(events.counts.map((c, s) => [s, c])),
  duplicates: events.duplicates,
  inboxDuplicates: stored.duplicates,
  inboxStored: stored.counts.reduce((a, b) => a + b, 0),
  malformed
})
await node.stop()
process.exit(0)
