/**
 * Benchmark 2, time to direct: in the NAT lab (bench/README.md), a relay on the lab internet
 * and peers A and B behind their own routers, each router's WAN link delayed by D ms one way
 * (so the A↔B path RTT is 4·D). A holds a reservation on the relay; in each trial a fresh B
 * (new identity) dials A's relayed address and waits for the hole-punched direct connection.
 * Time to direct = openedAt of B's direct connection to A − openedAt of its relayed one (both
 * from `burrow status --json`, same clock), reported in ms and as a multiple of the path RTT.
 * One lab per (NAT pair, delay, transport); the relay and A stay up across its trials.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'
import { ControlClient } from '../dist/index.js'
import { sleep } from './proc.ts'
import type { DialResult, NodeStatus } from '../dist/index.js'
import type { Lab as LabType, BurrowNode as LabBurrow, NatKind } from '../lab/dist/index.js'

type Transport = 'tcp' | 'udp'
interface Group { a: NatKind, b: NatKind, delayMs: number, transport: Transport, trials: number }
interface Plan { delays: number[], trials: number, /** the WebRTC path (opt-in since the UDX path: issue 15's benchmark is udp-path) */ udpTrials: number, pairs: Array<[NatKind, NatKind]>, pairTrials: number, pairDelayMs: number, directTimeoutMs: number }
const PLANS: Record<Size, Plan> = {
  smoke: { delays: [0], trials: 1, udpTrials: 1, pairs: [], pairTrials: 0, pairDelayMs: 10, directTimeoutMs: 10_000 },
  quick: { delays: [10], trials: 3, udpTrials: 3, pairs: [], pairTrials: 0, pairDelayMs: 10, directTimeoutMs: 10_000 },
  full: { delays: [0, 10, 25, 100], trials: 20, udpTrials: 5, pairs: [['cone', 'symmetric'], ['symmetric', 'symmetric']], pairTrials: 3, pairDelayMs: 10, directTimeoutMs: 10_000 }
}

interface Trial {
  ok: boolean
  ms: number | null
  reason?: string
  /** the relayed connection had closed before B's status was read: the time is the punch attempt's own record */
  recorded?: boolean
  /** the DCUtR initiator's (A's) record of the successful attempt: where the time went */
  phases?: Phases
  /** the dialler's (B's, the DCUtR answerer's and the Noise initiator's) record of it */
  phasesB?: Phases
  /** TCP: relayed connection open → the direct connection's socket up at B (its openedAt), before its upgrade */
  socketMs?: number
  /**
   * TCP: A's DCUtR exchange began (its relayed connection upgraded: connection:open starts the
   * path module at once; `startedAt - streamMs` of its record) → both direct upgrades ended.
   * openedAt is a connection's socket time, so the figure above also holds the relayed
   * connection's own Noise and yamux over the relay; this one is what P2's floor counts.
   */
  exchangeMs?: number
  /** TCP: how the punched connection was upgraded ('fast': burrow↔burrow, 'standard') */
  upgrade?: string
}

type Phases = Record<typeof PHASES[number], number | null>
/** the attempt record's phases (src/holepunch HolePunchPhases), in the order they happen */
const PHASES = ['streamMs', 'connectRttMs', 'syncWaitMs', 'openMs', 'upgradeMs', 'secureMs', 'muxMs'] as const
const PHASE_LABELS: Record<typeof PHASES[number], string> = { streamMs: 'stream open', connectRttMs: 'CONNECT RTT', syncWaitMs: 'SYNC wait', openMs: 'simultaneous open', upgradeMs: 'Noise + yamux', secureMs: '(Noise', muxMs: 'yamux' }

interface PunchAttempt { peer: string, outcome: string, sinceRelayedMs: number, startedAt?: string, durationMs?: number, phases?: Phases, upgrade?: string }

/** when an attempt ended (its punch dial resolved with the upgraded connection), ms since the epoch */
function endOf (a: PunchAttempt | undefined): number | undefined {
  if (a?.startedAt === undefined || a.durationMs === undefined) return undefined
  return Date.parse(a.startedAt) + a.durationMs
}

/** TCP (DCUtR) and UDP (WebRTC) punch attempts from a status. */
function punchAttempts (s: NodeStatus): PunchAttempt[] {
  const x = s as unknown as { holePunch?: { attempts?: PunchAttempt[] }, udpPunch?: { attempts?: PunchAttempt[] } }
  return [...(x.holePunch?.attempts ?? []), ...(x.udpPunch?.attempts ?? [])]
}

/** a group whose first trials all fail stops there, so a build without hole punching stays within the run's time budget */
const GIVE_UP_AFTER = 3

/** each path alone: `--punch tcp` (DCUtR over TCP) or `--punch udp` (WebRTC/ICE with the relay's STUN) */
function punchFor (t: Transport): string[] {
  return ['--punch', t]
}

async function runGroup (ctx: BenchContext, g: Group, plan: Plan): Promise<{ trials: Trial[], setupError?: string }> {
  const { Lab, startBurrow, burrowCliPath } = await import('../lab/dist/index.js')
  let lab: LabType | undefined
  const trials: Trial[] = []
  try {
    lab = await Lab.create({ name: `bench-ttd-${g.a}-${g.b}-${g.delayMs}` })
    const relayHost = await lab.addPublicHost('relay')
    const homeA = await lab.addHome('a', { nat: g.a, delayMs: g.delayMs })
    const homeB = await lab.addHome('b', { nat: g.b, delayMs: g.delayMs })
    const hostA = homeA.hosts[0]
    const hostB = homeB.hosts[0]
    if (hostA === undefined || hostB === undefined) throw new Error('lab homes without hosts')
    const listen = ['/ip4/0.0.0.0/tcp/4001']
    const common = ['--port-mapping', 'off', ...punchFor(g.transport)]
    let relay: LabBurrow
    try {
      relay = await startBurrow(lab, relayHost, { listen, args: ['--relay-server', 'on', ...common], logName: 'burrow-relay' })
    } catch (err) {
      return { trials, setupError: `relay did not start with ${punchFor(g.transport).join(' ')}: ${(err as Error).message.split('\n')[0] ?? ''}` }
    }
    const relayAddr = relay.multiaddr
    const na = await startBurrow(lab, hostA, { listen, bootstrap: [relayAddr], args: common, logName: 'burrow-a' })
    try {
      await na.waitForStatus(s => s.addresses.relayed.length > 0 || s.reservations.length > 0, 30_000, 'a relay reservation')
    } catch (err) {
      return { trials, setupError: `A got no reservation: ${(err as Error).message.split('\n')[0] ?? ''}` }
    }
    const target = `${relayAddr}/p2p-circuit/p2p/${na.peerId}`
    for (let t = 0; t < g.trials; t++) {
      const home = join(lab.runDir, `b-home-${t}`)
      mkdirSync(home, { recursive: true, mode: 0o700 })
      const nb = await lab.spawn(hostB, process.execPath, [burrowCliPath(), '--home', home, 'daemon', '--network', 'lab', '--listen', listen[0] ?? '', '--bootstrap', relayAddr, ...common], { logName: `burrow-b-${t}` })
      try {
        // B's control socket straight from this process (the CLI would cost a Node start per call)
        const control = new ControlClient(home)
        const up = Date.now() + 20_000
        for (;;) {
          try {
            await control.get<NodeStatus>('/status')
            break
          } catch (err) {
            if (Date.now() > up || !nb.running) throw new Error(`B did not start: ${(err as Error).message}`)
            await sleep(50)
          }
        }
        let dialed: DialResult
        try {
          dialed = await control.post<DialResult>('/dial', { target })
        } catch (err) {
          trials.push({ ok: false, ms: null, reason: `relayed dial failed: ${(err as Error).message.split('\n')[0] ?? ''}` })
          continue
        }
        // The relayed connection's own openedAt. When the upgrade won the race against the dial's
        // return or this status call, the relayed connection is gone: then the successful punch
        // attempt's own record says how long after the relayed connection opened it went direct.
        const first = await control.get<NodeStatus>('/status')
        const relayed = first.connections.find(c => c.peerId === na.peerId && !c.direct)
        if (relayed === undefined) {
          const won = punchAttempts(first).find(x => x.peer === na.peerId && x.outcome === 'direct')
          if (won !== undefined) {
            trials.push({ ok: true, ms: won.sinceRelayedMs, recorded: true })
          } else if (dialed.direct) {
            trials.push({ ok: false, ms: null, reason: 'the dial went direct (no relay involved)' })
          } else {
            trials.push({ ok: false, ms: null, reason: 'the relayed connection closed and no punch attempt succeeded' })
          }
          continue
        }
        const relayedAt = Date.parse(relayed.openedAt)
        try {
          const deadline = Date.now() + plan.directTimeoutMs
          let direct: NodeStatus['connections'][number] | undefined
          while (direct === undefined && Date.now() < deadline) {
            await sleep(50)
            direct = (await control.get<NodeStatus>('/status')).connections.find(c => c.peerId === na.peerId && c.direct)
          }
          if (direct === undefined) throw new Error('no direct connection')
          const socketMs = Math.max(0, Date.parse(direct.openedAt) - relayedAt)
          if (g.transport !== 'tcp') {
            trials.push({ ok: true, ms: socketMs })
          } else {
            // A started the exchange (the inbound side of the relayed connection): its record has the
            // phases; B's record has its own (the Noise initiator's) upgrade. The connection is usable
            // at both ends once both upgrades ended (each record's end: its dial resolved, upgraded);
            // the socket's openedAt alone would leave the upgrade out.
            const recent = (x: PunchAttempt): boolean => x.outcome === 'direct' && x.phases != null && Date.parse(x.startedAt ?? '') >= relayedAt - 1000
            const won = punchAttempts(await na.status()).filter(recent).at(-1)
            const wonB = punchAttempts(await control.get<NodeStatus>('/status')).filter(x => x.peer === na.peerId && recent(x)).at(-1)
            const ends = [endOf(won), endOf(wonB)].filter((x): x is number => x !== undefined)
            const ms = ends.length === 2 ? Math.max(0, Math.max(...ends) - relayedAt) : socketMs
            const begun = won?.startedAt !== undefined ? Date.parse(won.startedAt) - (won.phases?.streamMs ?? 0) : undefined
            const exchangeMs = ends.length === 2 && begun !== undefined ? Math.max(...ends) - begun : undefined
            trials.push({ ok: true, ms, socketMs, ...(exchangeMs !== undefined ? { exchangeMs } : {}), ...(won?.phases != null ? { phases: won.phases } : {}), ...(wonB?.phases != null ? { phasesB: wonB.phases } : {}), ...(won?.upgrade !== undefined ? { upgrade: won.upgrade } : {}) })
          }
        } catch {
          trials.push({ ok: false, ms: null, reason: `not direct within ${plan.directTimeoutMs / 1000} s: stayed relayed` })
        }
      } finally {
        await nb.stop()
      }
      if (trials.length >= GIVE_UP_AFTER && trials.every(x => !x.ok)) {
        ctx.log(`time-to-direct: ${GIVE_UP_AFTER} failures and no success: the group's other trials are not run`)
        break
      }
      ctx.log(`time-to-direct ${g.transport} ${g.a}×${g.b} ${g.delayMs} ms: trial ${t + 1}/${g.trials}: ${trials[trials.length - 1]?.ok === true ? `${trials[trials.length - 1]?.ms ?? ''} ms` : trials[trials.length - 1]?.reason ?? ''}`)
    }
    return { trials }
  } catch (err) {
    return { trials, setupError: (err as Error).message.split('\n')[0] ?? String(err) }
  } finally {
    await lab?.teardown()
  }
}

export const timeToDirect: Benchmark = {
  name: 'time-to-direct',
  title: 'Time to direct: relayed → hole-punched, in path RTTs',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    if (!ctx.labAvailable) {
      return { status: 'skipped', figures: [], notes: [`needs the NAT lab: ${ctx.labReason ?? 'not available'}`], params: { ...plan } }
    }
    const figures: Figure[] = []
    const notes: string[] = []
    const groups: Group[] = []
    for (const transport of ['tcp', 'udp'] as const) {
      for (const d of plan.delays) groups.push({ a: 'cone', b: 'cone', delayMs: d, transport, trials: transport === 'udp' ? plan.udpTrials : plan.trials })
      for (const [a, b] of plan.pairs) groups.push({ a, b, delayMs: plan.pairDelayMs, transport, trials: plan.pairTrials })
    }
    const unavailable = new Map<Transport, string>()
    const all: Array<{ g: Group, trials: Trial[], setupError?: string }> = []
    for (const g of groups) {
      const skip = unavailable.get(g.transport)
      if (skip !== undefined) {
        all.push({ g, trials: [], setupError: skip })
        continue
      }
      ctx.log(`time-to-direct: ${g.transport}, ${g.a} × ${g.b}, ${g.delayMs} ms one way, ${g.trials} trials`)
      const r = await runGroup(ctx, g, plan)
      all.push({ g, ...r })
      // a transport the build cannot even listen on is reported once, not retried per group
      if (r.setupError?.startsWith('relay did not start') === true) unavailable.set(g.transport, r.setupError)
    }
    for (const { g, trials, setupError } of all) {
      const ok = trials.filter(t => t.ok && t.ms !== null)
      const rtt = 4 * g.delayMs
      const ms = summarizeOrNull(ok.map(t => t.ms ?? 0))
      const where = `${g.transport.toUpperCase()}, ${g.a}×${g.b}, ${g.delayMs} ms one-way`
      const reasons = [...new Set(trials.filter(t => !t.ok).map(t => t.reason ?? ''))]
      const why = setupError ?? (reasons.length > 0 ? `not direct: ${reasons.join('; ')}` : 'no successful trial')
      const coneCone = g.a === 'cone' && g.b === 'cone'
      figures.push({
        key: `time-to-direct.${g.transport}.${g.a}-${g.b}.${g.delayMs}ms`,
        label: `relayed → direct, ${where}`,
        unit: 'ms',
        value: ms,
        ...(ms == null ? { note: why } : {}),
        ...(rtt > 0 ? { baseline: { label: `path RTT (4 × ${g.delayMs} ms)`, value: summarizeOrNull([rtt]) } } : {}),
        ...(rtt > 0 && ms != null ? { compare: { kind: 'ratio' as const, unit: 'RTT', value: summarizeOrNull(ok.map(t => (t.ms ?? 0) / rtt)) } } : {}),
        ...(coneCone && rtt > 0
          ? {
              target: {
                id: 'P2',
                goal: 'median ≤ 5 RTT + 50 ms',
                met: ms == null ? (trials.length > 0 ? false : null) : ms.median <= 5 * rtt + 50,
                detail: ms == null ? why : `${ms.median.toFixed(0)} ms vs ${5 * rtt + 50} ms allowed`
              },
              ...(ms != null ? { headline: { better: 'lower' as const, targetRatio: (5 * rtt + 50) / rtt } } : {})
            }
          : {})
      })
      for (const [who, pick] of [['A', (t: Trial) => t.phases], ['B', (t: Trial) => t.phasesB]] as const) {
        const withPhases = ok.filter(t => pick(t) != null)
        if (withPhases.length === 0) continue
        const parts = PHASES.map(k => {
          const v = summarizeOrNull(withPhases.map(t => pick(t)?.[k]).filter((x): x is number => typeof x === 'number'))
          return v == null ? null : `${PHASE_LABELS[k]} ${v.median.toFixed(0)} ms${rtt > 0 ? ` (${(v.median / rtt).toFixed(2)} RTT)` : ''}${k === 'muxMs' ? ')' : ''}`
        }).filter(x => x !== null)
        const kinds = [...new Set(withPhases.map(t => t.upgrade ?? 'unknown'))].join('/')
        notes.push(`${where}: phases, ${who}'s record (${who === 'A' ? 'DCUtR initiator; Noise responder, but initiator on a fast upgrade' : 'DCUtR answerer; Noise initiator, but responder on a fast upgrade'}; ${kinds} upgrade), median of ${withPhases.length}: ${parts.join(', ')}`)
      }
      const exchange = summarizeOrNull(ok.map(t => t.exchangeMs).filter((x): x is number => typeof x === 'number'))
      if (exchange != null) {
        figures.push({
          key: `time-to-direct.${g.transport}.${g.a}-${g.b}.${g.delayMs}ms.exchange`,
          label: `DCUtR start (relayed conn. upgraded) → direct usable at both ends, ${where}`,
          unit: 'ms',
          value: exchange,
          ...(rtt > 0 ? { baseline: { label: `path RTT (4 × ${g.delayMs} ms)`, value: summarizeOrNull([rtt]) } } : {}),
          ...(rtt > 0 ? { compare: { kind: 'ratio' as const, unit: 'RTT', value: summarizeOrNull(ok.map(t => t.exchangeMs).filter((x): x is number => typeof x === 'number').map(x => x / rtt)) } } : {})
        })
      }
      const sockets = summarizeOrNull(ok.map(t => t.socketMs).filter((x): x is number => typeof x === 'number'))
      if (sockets != null) notes.push(`${where}: relayed open → the punched socket up at B (before Noise and yamux; what this figure measured before it counted the upgrade): median ${sockets.median.toFixed(0)} ms${rtt > 0 ? ` (${(sockets.median / rtt).toFixed(2)} RTT)` : ''}`)
      const rate = trials.length === 0 ? null : ok.length / trials.length * 100
      figures.push({
        key: `time-to-direct.${g.transport}.${g.a}-${g.b}.${g.delayMs}ms.success`,
        label: `direct success, ${where} (${ok.length}/${trials.length})`,
        unit: '%',
        value: rate == null ? null : summarizeOrNull([rate]),
        ...(rate == null ? { note: why } : {}),
        ...(coneCone
          ? { target: { id: 'P1', goal: '100% (50 trials)', met: rate == null ? null : rate === 100, detail: rate == null ? why : `${ok.length}/${trials.length} trials${reasons.length > 0 ? `; ${reasons.join('; ')}` : ''}` } }
          : {})
      })
    }
    const recorded = all.flatMap(x => x.trials).filter(t => t.recorded === true).length
    if (recorded > 0) notes.push(`${recorded} trial(s) upgraded before B's first status call; their time is the successful punch attempt's own record (relayed connection opened → attempt done)`)
    const anyTrial = all.some(x => x.trials.length > 0)
    if (unavailable.size > 0) notes.push(...[...unavailable].map(([t, why]) => `${t.toUpperCase()} path not available: ${why}`))
    return { status: anyTrial ? (unavailable.size > 0 ? 'partial' : 'ok') : 'failed', figures, notes, params: { ...plan } }
  }
}
