/**
 * The scenario behind `burrow lab`: a relay/bootstrap node on the lab internet, peer A behind
 * router A, peer B behind router B. B finds A by PeerId, dials it (through the relay, as A is
 * not reachable directly), sends a message, and waits for the direct (hole-punched) upgrade.
 * Every step is timed and reported, failed steps with their reason; the lab is always torn down.
 */
import { logger } from '@libp2p/logger'
import { describeError } from 'burrow'
import { startBurrow } from './burrow.js'
import { LabTopologyError } from './errors.js'
import { NAT_KINDS } from './nat.js'
import { Lab } from './topology.js'
import type { BurrowNode } from './burrow.js'
import type { NatKind } from './nat.js'
import type { DialResult, FindResult, NodeStatus, SendResult } from 'burrow'

const log = logger('burrow:lab:scenario')

/** How long each step may take; the direct upgrade gets longer (DCUtR retries). */
export const SCENARIO_STEP_TIMEOUT_MS = 20_000
export const SCENARIO_DIRECT_TIMEOUT_MS = 30_000

export type LabTransport = 'tcp' | 'udp'

export interface ScenarioInit {
  a?: NatKind
  b?: NatKind
  /** one-way delay on each router's WAN link, ms (the A↔B path RTT is 4 × this) */
  delayMs?: number
  transport?: LabTransport
  stepTimeoutMs?: number
  directTimeoutMs?: number
  /** progress lines while it runs (the CLI prints them unless --json) */
  onProgress?: (line: string) => void
  /** label for the log folder */
  name?: string
}

export interface StepResult {
  ok: boolean
  /** how long the step took */
  ms?: number
  /** what happened, in a few words (or why it failed) */
  detail: string
}

export interface ScenarioReport {
  ok: boolean
  a: { nat: NatKind, wanIp: string, hostIp: string, peerId: string }
  b: { nat: NatKind, wanIp: string, hostIp: string, peerId: string }
  relay: { ip: string, peerId: string }
  delayMs: number
  transport: LabTransport
  /** the lab's own path RTT between the peers' routers: 4 × delayMs */
  pathRttMs: number
  steps: {
    start: StepResult
    reservation: StepResult
    lookup: StepResult
    relayedDial: StepResult
    message: StepResult
    direct: StepResult
    directMessage: StepResult
  }
  rtt: { relayedMs: number | null, directMs: number | null }
  /** conntrack on router A: did packets flow between the two WAN addresses without the relay? */
  directFlowsSeen: boolean
  logDir: string
  durationMs: number
}

const pending = (detail = 'not run'): StepResult => ({ ok: false, detail })

async function step<T> (report: StepResult, run: () => Promise<{ value: T, detail: string }>): Promise<T | undefined> {
  const t0 = Date.now()
  try {
    const { value, detail } = await run()
    report.ok = true
    report.detail = detail
    return value
  } catch (err) {
    report.ok = false
    report.detail = describeError(err)
    return undefined
  } finally {
    report.ms = Date.now() - t0
  }
}

const short = (id: string): string => id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id

/** Runs the scenario in a fresh lab and tears the lab down; never throws for a failed step. */
export async function runScenario (init: ScenarioInit = {}): Promise<ScenarioReport> {
  const a = init.a ?? 'cone'
  const b = init.b ?? 'cone'
  for (const k of [a, b]) {
    if (!NAT_KINDS.includes(k)) throw new LabTopologyError(`unknown NAT kind "${k}" (one of ${NAT_KINDS.join(', ')})`)
  }
  const delayMs = init.delayMs ?? 0
  const transport = init.transport ?? 'tcp'
  const stepMs = init.stepTimeoutMs ?? SCENARIO_STEP_TIMEOUT_MS
  const directMs = init.directTimeoutMs ?? SCENARIO_DIRECT_TIMEOUT_MS
  const progress = init.onProgress ?? (() => {})
  const t0 = Date.now()

  const lab = await Lab.create({ name: init.name ?? `lab-${a}-${b}` })
  const report: ScenarioReport = {
    ok: false,
    a: { nat: a, wanIp: '', hostIp: '', peerId: '' },
    b: { nat: b, wanIp: '', hostIp: '', peerId: '' },
    relay: { ip: '', peerId: '' },
    delayMs,
    transport,
    pathRttMs: 4 * delayMs,
    steps: {
      start: pending(),
      reservation: pending(),
      lookup: pending(),
      relayedDial: pending(),
      message: pending(),
      direct: pending(),
      directMessage: pending()
    },
    rtt: { relayedMs: null, directMs: null },
    directFlowsSeen: false,
    logDir: lab.logDir,
    durationMs: 0
  }
  const s = report.steps
  try {
    const relayHost = await lab.addPublicHost('relay')
    const homeA = await lab.addHome('a', { nat: a, delayMs })
    const homeB = await lab.addHome('b', { nat: b, delayMs })
    const hostA = homeA.hosts[0]
    const hostB = homeB.hosts[0]
    if (hostA === undefined || hostB === undefined) throw new LabTopologyError('homes without hosts')
    report.relay.ip = relayHost.ip
    report.a.wanIp = homeA.router.wanIp
    report.a.hostIp = hostA.ip
    report.b.wanIp = homeB.router.wanIp
    report.b.hostIp = hostB.ip
    progress(`lab ${lab.id}: relay ${relayHost.ip}, A ${hostA.ip} behind ${a} NAT ${homeA.router.wanIp}, B ${hostB.ip} behind ${b} NAT ${homeB.router.wanIp}, ${delayMs} ms one-way per WAN link`)

    // both run over TCP to the relay; the transport picks the hole punching path:
    // tcp = DCUtR over TCP only, udp = WebRTC (UDP, STUN from the relay) only
    const listen = ['/ip4/0.0.0.0/tcp/4001']
    const punch = ['--punch', transport]
    const nodes = await step<{ relay: BurrowNode, na: BurrowNode, nb: BurrowNode }>(s.start, async () => {
      const relay = await startBurrow(lab, relayHost, { listen, args: ['--relay-server', 'on'], logName: 'burrow-relay' })
      const bootstrap = [relay.multiaddr]
      const [na, nb] = await Promise.all([
        startBurrow(lab, hostA, { listen, bootstrap, args: punch, logName: 'burrow-a' }),
        startBurrow(lab, hostB, { listen, bootstrap, args: punch, logName: 'burrow-b' })
      ])
      return { value: { relay, na, nb }, detail: `relay ${short(relay.peerId)}, A ${short(na.peerId)}, B ${short(nb.peerId)}` }
    })
    progress(`start: ${s.start.detail}`)
    if (nodes === undefined) return report
    const { relay, na, nb } = nodes
    report.relay.peerId = relay.peerId
    report.a.peerId = na.peerId
    report.b.peerId = nb.peerId

    await step(s.reservation, async () => {
      const st = await na.waitForStatus(x => x.reservations.length > 0 || x.addresses.relayed.length > 0, stepMs, 'relay reservation')
      return { value: st, detail: `A holds a reservation: ${st.addresses.relayed[0] ?? st.reservations[0]?.relay ?? ''}` }
    })
    progress(`reservation: ${s.reservation.detail}`)

    await step(s.lookup, async () => {
      const found = await retry(stepMs, async () => nb.cliJson<FindResult>(['find', na.peerId], { timeoutMs: stepMs }))
      return { value: found, detail: `${found.addresses.length} address(es) in ${found.durationMs} ms${found.addresses.some(x => x.includes('/p2p-circuit')) ? ', relayed ones included' : ', none relayed'}` }
    })
    progress(`lookup: ${s.lookup.detail}`)

    const dialed = await step(s.relayedDial, async () => {
      const d = await nb.cliJson<DialResult>(['dial', na.peerId], { timeoutMs: stepMs })
      return { value: d, detail: `${d.direct ? 'direct (not relayed!)' : 'relayed'} via ${d.remoteAddress} in ${d.durationMs} ms` }
    })
    const dialedAt = Date.now()
    progress(`relayed dial: ${s.relayedDial.detail}`)

    await step(s.message, async () => {
      const r = await nb.cliJson<SendResult>(['send', na.peerId, 'hello from B'], { timeoutMs: stepMs })
      report.rtt[r.via === 'direct' ? 'directMs' : 'relayedMs'] = r.rttMs
      return { value: r, detail: `acknowledged via ${r.via} in ${r.rttMs} ms` }
    })
    progress(`message: ${s.message.detail}`)

    if (dialed === undefined) {
      s.direct.detail = 'not direct: no connection to upgrade (the dial failed)'
    } else {
      await step(s.direct, async () => {
        let st: NodeStatus
        try {
          st = await nb.waitForStatus(x => x.connections.some(c => c.peerId === na.peerId && c.direct), directMs, 'direct connection to A')
        } catch (err) {
          throw new Error(`not direct after ${Math.round(directMs / 1000)} s: the connection stayed relayed (${describeError(err)})`)
        }
        const c = st.connections.find(x => x.peerId === na.peerId && x.direct)
        return { value: st, detail: `direct ${c?.remoteAddress ?? ''} ${Date.now() - dialedAt} ms after the relayed dial` }
      })
      progress(`direct: ${s.direct.detail}`)
      if (s.direct.ok) {
        await step(s.directMessage, async () => {
          const r = await nb.cliJson<SendResult>(['send', na.peerId, 'hello again, directly'], { timeoutMs: stepMs })
          report.rtt[r.via === 'direct' ? 'directMs' : 'relayedMs'] = r.rttMs
          return { value: r, detail: `acknowledged via ${r.via} in ${r.rttMs} ms` }
        })
      } else {
        s.directMessage.detail = 'skipped: no direct connection'
      }
    }
    const flows = await homeA.router.flowsBetween(homeA.router.wanIp, homeB.router.wanIp).catch(() => [])
    report.directFlowsSeen = flows.length > 0
    report.ok = Object.values(s).every(x => x.ok)
    return report
  } catch (err) {
    log.error('scenario failed: %e', err)
    throw err
  } finally {
    await lab.teardown()
    report.durationMs = Date.now() - t0
  }
}

async function retry<T> (timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }
}

/** The one-screen report `burrow lab` prints. */
export function formatReport (r: ScenarioReport): string {
  const mark = (x: StepResult): string => x.ok ? 'ok  ' : 'FAIL'
  const ms = (x: StepResult): string => x.ms !== undefined ? `${x.ms} ms`.padStart(9) : ''.padStart(9)
  const clip = (t: string): string => t.length > 140 ? `${t.slice(0, 139)}…` : t
  const line = (name: string, x: StepResult): string => `  ${mark(x)} ${name.padEnd(13)} ${ms(x)}  ${clip(x.detail)}`
  const rtt = (v: number | null): string => v === null ? 'n/a' : `${v} ms`
  return [
    `burrow lab: A behind ${r.a.nat} NAT, B behind ${r.b.nat} NAT, ${r.transport.toUpperCase()}, ${r.delayMs} ms one-way per WAN link (path RTT ${r.pathRttMs} ms)`,
    `  relay ${r.relay.ip} ${short(r.relay.peerId)} | A ${r.a.hostIp} → ${r.a.wanIp} ${short(r.a.peerId)} | B ${r.b.hostIp} → ${r.b.wanIp} ${short(r.b.peerId)}`,
    line('nodes up', r.steps.start),
    line('reservation', r.steps.reservation),
    line('lookup', r.steps.lookup),
    line('relayed dial', r.steps.relayedDial),
    line('message', r.steps.message),
    line('direct', r.steps.direct),
    line('direct msg', r.steps.directMessage),
    `  message RTT: relayed ${rtt(r.rtt.relayedMs)}, direct ${rtt(r.rtt.directMs)}; packets between the WAN addresses seen on router A: ${r.directFlowsSeen ? 'yes' : 'no'}`,
    `  ${r.ok ? 'all steps passed' : 'some steps failed'} in ${(r.durationMs / 1000).toFixed(1)} s; logs: ${r.logDir}`
  ].join('\n')
}
