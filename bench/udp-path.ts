/**
 * Benchmark: the UDP path cell by cell, burrow beside Holepunch's hyperdht in the same lab cell.
 *
 * Cells: A's NAT × B's NAT (cone×cone, cone×symmetric, symmetric×cone, symmetric×symmetric) at
 * D = 0 and 25 ms one way on each router's WAN link (so the A↔B path RTT is 4·D). Every trial
 * gets fresh homes (new identities, new home folders, new log files) and the routers'
 * conntrack is flushed before its peers start.
 *
 * burrow: a relay on the lab internet (burrow's own, `--relay-server on`, with its STUN server)
 * and a second STUN server on another public lab host (two STUN source IPs tell the NAT's UDP
 * mapping, as amino's default list of public STUN servers does); A holds a reservation;
 * B dials A **by PeerId** (`POST /dial {target: peerId}`: lookup, then the first connection on any
 * path) with `--punch auto` (TCP and UDX raced). Figures per cell: direct success, dial → first
 * connection, dial → direct and relayed → direct (ms and path RTTs), all on B's clock.
 *
 * hyperdht: a 10-node hyperdht testnet on a public lab host; A listens under a fresh key pair, B
 * dials the public key; dial → open encrypted stream (lookup included) and → first echoed byte.
 * hyperdht has no relay here: a stream is direct or the dial fails.
 */
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { summarizeOrNull } from './stats.ts'
import { sleep } from './proc.ts'
import { BENCH_DIR } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'
import { ControlClient } from '../dist/index.js'
import type { NodeStatus } from '../dist/index.js'
import type { Lab as LabType, LabHost, NatKind } from '../lab/dist/index.js'

type Cell = { a: NatKind, b: NatKind, delayMs: number }
interface Plan { cells: Cell[], burrowTrials: number, hyperdhtTrials: number, directTimeoutMs: number }

const ALL_PAIRS: Array<[NatKind, NatKind]> = [['cone', 'cone'], ['cone', 'symmetric'], ['symmetric', 'cone'], ['symmetric', 'symmetric']]
function cells (pairs: Array<[NatKind, NatKind]>, delays: number[]): Cell[] {
  return delays.flatMap(delayMs => pairs.map(([a, b]) => ({ a, b, delayMs })))
}
const PLANS: Record<Size, Plan> = {
  smoke: { cells: cells([['cone', 'cone']], [0]), burrowTrials: 1, hyperdhtTrials: 1, directTimeoutMs: 20_000 },
  quick: { cells: cells(ALL_PAIRS, [25]), burrowTrials: 3, hyperdhtTrials: 3, directTimeoutMs: 20_000 },
  full: { cells: cells(ALL_PAIRS, [0, 25]), burrowTrials: 5, hyperdhtTrials: 3, directTimeoutMs: 20_000 }
}
/** symmetric × symmetric is expected to stay relayed (burrow) or fail (hyperdht): fewer trials */
const SYM_SYM_TRIALS = 3
/** a cell whose first trials all fail stops there, so the run stays within its time budget */
const GIVE_UP_AFTER = 3
const HYPERDHT_PEER = join(BENCH_DIR, 'peers', 'hyperdht-peer.cjs')
const HYPERDHT_PORT = 49737

interface BurrowTrial { ok: boolean, preconnected?: boolean, firstMs?: number, directMs?: number, relayedToDirectMs?: number, method?: string, reason?: string }
interface HyperTrial { ok: boolean, openMs?: number, ms?: number, reason?: string }

/** One line from B's and A's status after a trial that did not go direct: the connections and every punch attempt. */
function missReason (b: NodeStatus, a: NodeStatus | undefined, aId: string, bId: string): string {
  const conns = b.connections.filter(c => c.peerId === aId)
  const parts = [conns.length === 0 ? 'B holds no connection to A' : `B's connections to A: ${conns.map(c => c.direct ? 'direct' : `relayed (${c.whyRelayed ?? '?'})`).join(', ')}`]
  for (const [side, st, peer] of [['B', b, aId], ['A', a, bId]] as const) {
    if (st === undefined) continue
    for (const x of st.udp.attempts.filter(x => x.peer === peer)) parts.push(`${side} udx ${x.role} ${x.method} ${x.outcome} (${x.probes} probes, ${x.sockets} sockets, ${x.localNat}/${x.remoteNat ?? '?'}): ${x.detail}`)
    for (const x of st.holePunch.attempts.filter(x => x.peer === peer)) parts.push(`${side} tcp ${x.role} ${x.outcome}: ${x.detail}`)
  }
  return parts.join('; ')
}

/** Fresh A and B homes in an existing lab, `--punch auto`; B dials A by PeerId. */
async function burrowTrial (lab: LabType, hosts: { relay: string, stun: string, a: LabHost, b: LabHost }, t: number, timeoutMs: number): Promise<BurrowTrial> {
  const { startBurrow } = await import('../lab/dist/index.js')
  const listen = ['/ip4/0.0.0.0/tcp/4001']
  const common = ['--port-mapping', 'off', '--punch', 'auto', '--udp-stun-server', hosts.stun]
  // both start at once (a trial's set-up is most of its time: 143 trials in a full run)
  const [sa, sb] = await Promise.allSettled([
    startBurrow(lab, hosts.a, { listen, bootstrap: [hosts.relay], args: common, logName: `burrow-a-${t}` }),
    startBurrow(lab, hosts.b, { listen, bootstrap: [hosts.relay], args: common, logName: `burrow-b-${t}` })
  ])
  if (sa.status === 'rejected' || sb.status === 'rejected') {
    await Promise.allSettled([sa, sb].map(async s => { if (s.status === 'fulfilled') await s.value.stop() }))
    throw (sa.status === 'rejected' ? sa.reason : (sb as PromiseRejectedResult).reason) as Error
  }
  const na = sa.value
  const nb = sb.value
  try {
    // A holds a reservation, B is connected, and both know their NAT's UDP mapping (STUN on the
    // UDX socket) before the dial: part of start-up, not of the dial
    await Promise.all([
      // …and A has announced itself under its rendezvous key (else a dial by PeerId cannot find it yet)
      na.waitForStatus(s => s.reservations.length > 0 && s.udp.checkedAt != null && s.rendezvous.providedAt != null, 30_000, 'a relay reservation, the UDP mapping checked by STUN and the rendezvous record provided'),
      nb.waitForStatus(s => s.connections.length > 0 && s.udp.checkedAt != null, 30_000, 'a connection to the relay and the UDP mapping checked by STUN')
    ])
    const control = new ControlClient(nb.home)
    // the swarm may already have joined them (a DHT query through the relay): such a trial
    // counts for success, not for the dial's time
    const before = await control.get<NodeStatus>('/status')
    const preconnected = before.connections.some(c => c.peerId === na.peerId)
    const t0 = Date.now()
    try {
      await control.post('/dial', { target: na.peerId })
    } catch (err) {
      return { ok: false, reason: `dial failed: ${(err as Error).message.split('\n')[0] ?? ''}` }
    }
    const firstMs = Date.now() - t0
    const deadline = Date.now() + timeoutMs
    let last: NodeStatus | undefined
    while (Date.now() < deadline) {
      last = await control.get<NodeStatus>('/status')
      const conns = last.connections.filter(c => c.peerId === na.peerId)
      const direct = conns.find(c => c.direct)
      if (direct !== undefined) {
        const relayed = conns.find(c => !c.direct)
        const relayedAt = relayed !== undefined ? Date.parse(relayed.openedAt) : undefined
        const directAt = Date.parse(direct.openedAt)
        if (preconnected) return { ok: true, preconnected, method: direct.remoteAddress.includes('/udp/') ? 'udx' : 'tcp', ...(relayedAt !== undefined && directAt >= relayedAt ? { relayedToDirectMs: directAt - relayedAt } : {}) }
        return {
          ok: true,
          firstMs,
          directMs: directAt - t0,
          ...(relayedAt !== undefined ? { relayedToDirectMs: Math.max(0, directAt - relayedAt) } : {}),
          method: direct.remoteAddress.includes('/udp/') ? 'udx' : 'tcp'
        }
      }
      await sleep(25)
    }
    // what both sides recorded, so a miss says why (relayed or not connected, each punch attempt)
    const aStatus = await new ControlClient(na.home).get<NodeStatus>('/status').catch(() => undefined)
    const reason = last === undefined ? 'no status' : missReason(last, aStatus, na.peerId, nb.peerId)
    return { ok: false, ...(preconnected ? { preconnected } : { firstMs }), reason: `stayed relayed for ${timeoutMs / 1000} s: ${reason}` }
  } finally {
    await Promise.allSettled([na.stop(), nb.stop()])
  }
}

async function hyperdhtTrial (lab: LabType, hosts: { bootstrap: string, a: LabHost, b: LabHost }, t: number, timeoutMs: number): Promise<HyperTrial> {
  const seed = randomBytes(32).toString('hex')
  const server = await lab.spawn(hosts.a, process.execPath, [HYPERDHT_PEER, 'server', hosts.bootstrap, seed], { logName: `hyperdht-a-${t}` })
  try {
    const m = await server.waitForOutput(/"publicKey":"([0-9a-f]+)"/, 30_000)
    const client = await lab.spawn(hosts.b, process.execPath, [HYPERDHT_PEER, 'client', hosts.bootstrap, m[1] ?? '', String(timeoutMs)], { logName: `hyperdht-b-${t}` })
    try {
      const line = await client.waitForOutput(/\{"ok".*\}/, timeoutMs + 15_000)
      const r = JSON.parse(line[0]) as { ok: boolean, ms?: number, openMs?: number, reason?: string }
      return r.ok ? { ok: true, openMs: r.openMs, ms: r.ms } : { ok: false, reason: r.reason ?? 'failed' }
    } finally {
      await client.stop()
    }
  } finally {
    await server.stop()
  }
}

async function runCell (ctx: BenchContext, cell: Cell, plan: Plan): Promise<{ burrow: BurrowTrial[], hyperdht: HyperTrial[], setupError?: string }> {
  const { Lab, startBurrow, startLabStun, LAB_STUN_PORT } = await import('../lab/dist/index.js')
  const symSym = cell.a === 'symmetric' && cell.b === 'symmetric'
  const burrowTrials = symSym ? Math.min(SYM_SYM_TRIALS, plan.burrowTrials) : plan.burrowTrials
  const hyperTrials = symSym ? Math.min(SYM_SYM_TRIALS, plan.hyperdhtTrials) : plan.hyperdhtTrials
  const burrow: BurrowTrial[] = []
  const hyperdht: HyperTrial[] = []
  let lab: LabType | undefined
  try {
    lab = await Lab.create({ name: `bench-udp-${cell.a.slice(0, 3)}-${cell.b.slice(0, 3)}-${cell.delayMs}` })
    const relayHost = await lab.addPublicHost('relay')
    const dhtHost = await lab.addPublicHost('hdht')
    const stunHost = await lab.addPublicHost('stun')
    const homeA = await lab.addHome('a', { nat: cell.a, delayMs: cell.delayMs })
    const homeB = await lab.addHome('b', { nat: cell.b, delayMs: cell.delayMs })
    const a = homeA.hosts[0]
    const b = homeB.hosts[0]
    if (a === undefined || b === undefined) throw new Error('lab homes without hosts')
    const flush = async (): Promise<void> => { await Promise.all([homeA.router.flushConntrack(), homeB.router.flushConntrack()]) }

    await startLabStun(stunHost)
    const relay = await startBurrow(lab, relayHost, { listen: ['/ip4/0.0.0.0/tcp/4001'], args: ['--relay-server', 'on', '--port-mapping', 'off'], logName: 'burrow-relay' })
    for (let t = 0; t < burrowTrials; t++) {
      await flush()
      const r = await burrowTrial(lab, { relay: relay.multiaddr, stun: `${stunHost.ip}:${LAB_STUN_PORT}`, a, b }, t, plan.directTimeoutMs).catch((err: Error): BurrowTrial => ({ ok: false, reason: err.message.split('\n')[0] ?? String(err) }))
      burrow.push(r)
      ctx.log(`udp-path burrow ${cell.a}×${cell.b} ${cell.delayMs} ms: trial ${t + 1}/${burrowTrials}: ${r.ok ? `direct (${r.method ?? '?'}) dial→direct ${r.directMs ?? '?'} ms, relayed→direct ${r.relayedToDirectMs ?? '?'} ms` : r.reason ?? ''}`)
      if (burrow.length >= GIVE_UP_AFTER && burrow.every(x => !x.ok) && !symSym) break
    }
    await relay.stop()

    const testnet = await lab.spawn(dhtHost, process.execPath, [HYPERDHT_PEER, 'testnet', dhtHost.ip, String(HYPERDHT_PORT), '10'], { logName: 'hyperdht-testnet' })
    await testnet.waitForOutput(/"ready":true/, 60_000)
    for (let t = 0; t < hyperTrials; t++) {
      await flush()
      const r = await hyperdhtTrial(lab, { bootstrap: `${dhtHost.ip}:${HYPERDHT_PORT}`, a, b }, t, plan.directTimeoutMs * 2).catch((err: Error): HyperTrial => ({ ok: false, reason: err.message.split('\n')[0] ?? String(err) }))
      hyperdht.push(r)
      ctx.log(`udp-path hyperdht ${cell.a}×${cell.b} ${cell.delayMs} ms: trial ${t + 1}/${hyperTrials}: ${r.ok ? `open ${r.openMs?.toFixed(0) ?? '?'} ms` : r.reason ?? ''}`)
      if (hyperdht.length >= GIVE_UP_AFTER && hyperdht.every(x => !x.ok)) break
    }
    await testnet.stop()
    return { burrow, hyperdht }
  } catch (err) {
    return { burrow, hyperdht, setupError: (err as Error).message.split('\n')[0] ?? String(err) }
  } finally {
    await lab?.teardown()
  }
}

function rttRatio (values: number[], rtt: number): Figure['compare'] | undefined {
  if (rtt <= 0 || values.length === 0) return undefined
  const s = summarizeOrNull(values.map(v => v / rtt))
  return s == null ? undefined : { kind: 'ratio', unit: 'RTT', value: s }
}

/**
 * `BURROW_BENCH_UDP_CELLS=cone-symmetric-0,symmetric-cone-25` runs only those cells (A's NAT,
 * B's NAT, one-way ms) of the plan's size, e.g. to repeat the 20 trials of one cell.
 */
function planFromEnv (plan: Plan): Plan {
  const only = (process.env.BURROW_BENCH_UDP_CELLS ?? '').split(',').map(x => x.trim()).filter(x => x !== '')
  if (only.length === 0) return plan
  const cells = only.map(x => {
    const m = /^(cone|symmetric)-(cone|symmetric)-(\d+)$/.exec(x)
    if (m == null) throw new Error(`BURROW_BENCH_UDP_CELLS: ${x} is not NAT-NAT-MS (e.g. cone-symmetric-25)`)
    return { a: m[1] as NatKind, b: m[2] as NatKind, delayMs: Number(m[3]) }
  })
  return { ...plan, cells }
}

export const udpPath: Benchmark = {
  name: 'udp-path',
  title: 'The UDP path per NAT cell: burrow (TCP+UDX raced) beside hyperdht',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const sized = PLANS[ctx.size]
    const plan = planFromEnv(ctx.trials != null ? { ...sized, burrowTrials: ctx.trials } : sized)
    if (!ctx.labAvailable) {
      return { status: 'skipped', figures: [], notes: [`needs the NAT lab: ${ctx.labReason ?? 'not available'}`], params: { ...plan } }
    }
    const figures: Figure[] = []
    const notes: string[] = []
    let anyTrial = false
    for (const cell of plan.cells) {
      ctx.log(`udp-path: ${cell.a} × ${cell.b}, ${cell.delayMs} ms one way`)
      const r = await runCell(ctx, cell, plan)
      if (r.setupError !== undefined) notes.push(`${cell.a}×${cell.b} ${cell.delayMs} ms: ${r.setupError}`)
      anyTrial ||= r.burrow.length + r.hyperdht.length > 0
      const rtt = 4 * cell.delayMs
      const where = `${cell.a}×${cell.b}, ${cell.delayMs} ms one-way`
      const key = `udp-path.${cell.a}-${cell.b}.${cell.delayMs}ms`
      const ok = r.burrow.filter(x => x.ok)
      const hok = r.hyperdht.filter(x => x.ok)
      const reasons = [...new Set(r.burrow.filter(x => !x.ok).map(x => x.reason ?? ''))]
      const hreasons = [...new Set(r.hyperdht.filter(x => !x.ok).map(x => x.reason ?? ''))]
      const symSym = cell.a === 'symmetric' && cell.b === 'symmetric'
      const oneSym = cell.a !== cell.b
      const hyperdhtRate = r.hyperdht.length === 0 ? null : hok.length / r.hyperdht.length * 100
      const rate = r.burrow.length === 0 ? null : ok.length / r.burrow.length * 100
      figures.push({
        key: `${key}.success`,
        label: `direct success, ${where} (burrow ${ok.length}/${r.burrow.length}, hyperdht ${hok.length}/${r.hyperdht.length})`,
        unit: '%',
        value: rate == null ? null : summarizeOrNull([rate]),
        ...(hyperdhtRate != null ? { baseline: { label: 'hyperdht', value: summarizeOrNull([hyperdhtRate]) } } : {}),
        ...(reasons.length + hreasons.length > 0 ? { note: [reasons.length > 0 ? `burrow: ${reasons.join('; ')}` : '', hreasons.length > 0 ? `hyperdht: ${hreasons.join('; ')}` : ''].filter(s => s !== '').join(' · ') } : {}),
        ...(!symSym && rate != null ? { target: { id: 'U1', goal: oneSym ? '≥ 95% (19/20)' : '100%', met: oneSym ? rate >= 95 : rate === 100, detail: `${ok.length}/${r.burrow.length}` } } : {})
      })
      const pre = r.burrow.filter(x => x.preconnected === true).length
      if (pre > 0) notes.push(`${cell.a}×${cell.b} ${cell.delayMs} ms: ${pre} of ${r.burrow.length} burrow trials were joined by the swarm before the dial (no dial time)`)
      const first = summarizeOrNull(r.burrow.filter(x => x.firstMs !== undefined).map(x => x.firstMs ?? 0))
      figures.push({ key: `${key}.first`, label: `dial by PeerId → first connection (any path), ${where}`, unit: 'ms', value: first })
      // only trials that dialled (a trial the swarm had joined before the dial has no dial time)
      const dialled = ok.filter(x => x.directMs !== undefined).map(x => x.directMs ?? 0)
      const dialDirect = summarizeOrNull(dialled)
      const hopen = summarizeOrNull(hok.map(x => x.openMs ?? 0))
      const cmp = rttRatio(dialled, rtt)
      figures.push({
        key: `${key}.dial-to-direct`,
        label: `dial by PeerId → direct, ${where} (hyperdht: → open stream)`,
        unit: 'ms',
        value: dialDirect,
        ...(hopen != null ? { baseline: { label: 'hyperdht', value: hopen } } : {}),
        ...(cmp !== undefined ? { compare: cmp } : {}),
        ...(cell.a === 'cone' && cell.b === 'cone' && rtt > 0 && dialDirect != null
          ? { target: { id: 'U2', goal: '≤ 3 RTT + 50 ms', met: dialDirect.median <= 3 * rtt + 50, detail: `${dialDirect.median.toFixed(0)} ms vs ${3 * rtt + 50} ms` } }
          : {}),
        ...(oneSym && dialDirect != null
          ? { target: { id: 'U4', goal: 'median ≤ 2 s', met: dialDirect.median <= 2000, detail: `${dialDirect.median.toFixed(0)} ms` } }
          : {})
      })
      const r2d = ok.filter(x => x.relayedToDirectMs !== undefined).map(x => x.relayedToDirectMs ?? 0)
      const r2dSum = summarizeOrNull(r2d)
      const r2dCmp = rttRatio(r2d, rtt)
      figures.push({
        key: `${key}.relayed-to-direct`,
        label: `relayed → direct, ${where}`,
        unit: 'ms',
        value: r2dSum,
        ...(r2dCmp !== undefined ? { compare: r2dCmp } : {}),
        ...(rtt > 0 && r2dSum != null ? { target: { id: 'U3', goal: '≤ 4 RTT', met: r2dSum.median <= 4 * rtt, detail: `${r2dSum.median.toFixed(0)} ms vs ${4 * rtt} ms` } } : {})
      })
    }
    notes.push('burrow trials where the swarm had already joined A and B before the dial count for success and relayed → direct, not for the dial times')
    notes.push('hyperdht: a 10-node testnet on a public lab host, no relay (a stream is direct or the dial fails); its dial time includes the DHT lookup, as burrow\'s (by PeerId) does')
    return { status: anyTrial ? 'ok' : 'failed', figures, notes, params: { ...plan } }
  }
}
