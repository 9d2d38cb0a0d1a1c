import { Counter, Gauge, Histogram } from 'prom-client'
import { RELAYED_TO_DIRECT_BUCKETS_SECONDS } from './constants.js'
import type { Registry } from 'prom-client'
import type { TypedEventTarget } from '@libp2p/interface'
import type { HolePunchEvents } from '../holepunch/index.js'
import type { UdpPunchEvents } from '../udppunch/index.js'
import type { MessagingEvents } from '../messaging/index.js'

/** A punch attempt as the TCP (DCUtR) and UDP (WebRTC) paths report it. */
interface PunchAttempt {
  outcome: 'direct' | 'failed'
  /** from the relayed connection's opening to the end of this attempt */
  sinceRelayedMs: number
}

/**
 * Where burrow's series come from: events for what happens (punch attempts, acks,
 * failures), and state read at scrape time for what is (reservations, mappings, queues).
 */
export interface MetricsSources {
  /** emits 'holepunch:attempt' (TCP, DCUtR) */
  holePunch: TypedEventTarget<HolePunchEvents>
  /** emits 'udppunch:attempt' (UDP, WebRTC); counts its probes */
  udpPunch: TypedEventTarget<UdpPunchEvents> & { probesSent: number }
  /** emits 'message:delivered' (acked) and 'message:failed' */
  messages: TypedEventTarget<MessagingEvents>
  /** delivery attempts begun and messages queued, since start */
  messageTotals: () => { sent: number, queued: number }
  outbox: () => Promise<Array<{ state: string }>>
  inbox: () => { bytes: number, maxBytes: number, count: number, maxCount: number }
  reachability: () => string
  portMappings: () => Array<{ protocol: string, confirmed: boolean }>
  reservationsHeld: () => number
  /** undefined while this node runs no relay service */
  relayServer: () => { reservations: number, refusals: Map<string, number> } | undefined
  routingTableSize: () => number
}

const REACHABILITY_STATES = ['public', 'private', 'unknown']
const MAPPING_PROTOCOLS = ['upnp', 'nat-pmp', 'pcp', 'manual']
const OUTBOX_STATES = ['pending', 'failed']

/**
 * burrow's own series, in the registry libp2p's metrics use too. Names follow the
 * Prometheus conventions: `burrow_` prefix, `_total` on counters, base units (seconds,
 * bytes). The list is in README (Metrics) and docs/DESIGN.md.
 */
export class BurrowMetrics {
  private readonly sources: MetricsSources
  private readonly punches: Counter<'method' | 'outcome'>
  private readonly relayedToDirect: Histogram<'method'>
  private readonly acked: Counter
  private readonly failed: Counter
  private readonly listeners: Array<() => void> = []

  constructor (registry: Registry, sources: MetricsSources) {
    this.sources = sources
    const registers = [registry]
    this.punches = new Counter({ name: 'burrow_holepunch_attempts_total', help: 'Hole punch attempts by method (tcp: DCUtR, udp: WebRTC) and outcome (direct, failed)', labelNames: ['method', 'outcome'], registers })
    for (const method of ['tcp', 'udp']) for (const outcome of ['direct', 'failed']) this.punches.inc({ method, outcome }, 0)
    this.relayedToDirect = new Histogram({ name: 'burrow_relayed_to_direct_seconds', help: 'Time from a relayed connection opening to the hole punch that made the path direct, by method', labelNames: ['method'], buckets: RELAYED_TO_DIRECT_BUCKETS_SECONDS, registers })
    this.acked = new Counter({ name: 'burrow_messages_acked_total', help: 'Messages the receiving peer acknowledged (stored in its inbox)', registers })
    this.failed = new Counter({ name: 'burrow_messages_failed_total', help: 'Messages given up on: rejected by the peer or expired in the outbox', registers })
    new Counter({
      name: 'burrow_messages_sent_total',
      help: 'Message delivery attempts begun (first tries and retries)',
      registers,
      collect () { this.reset(); this.inc(sources.messageTotals().sent) }
    })
    new Counter({
      name: 'burrow_messages_queued_total',
      help: 'Messages written to the outbox, to be retried until acked or expired',
      registers,
      collect () { this.reset(); this.inc(sources.messageTotals().queued) }
    })
    new Gauge({
      name: 'burrow_outbox_messages',
      help: 'Messages in the outbox by state (pending: to be retried, failed: given up, kept to be read)',
      labelNames: ['state'],
      registers,
      async collect () {
        const entries = await sources.outbox()
        for (const state of OUTBOX_STATES) this.set({ state }, entries.filter(e => e.state === state).length)
      }
    })
    new Gauge({
      name: 'burrow_inbox_bytes',
      help: 'Bytes stored in the inbox',
      registers,
      collect () { this.set(sources.inbox().bytes) }
    })
    new Gauge({
      name: 'burrow_inbox_quota_bytes',
      help: 'Bytes the inbox may hold (messages.inboxMaxBytes)',
      registers,
      collect () { this.set(sources.inbox().maxBytes) }
    })
    new Gauge({
      name: 'burrow_inbox_messages',
      help: 'Messages stored in the inbox',
      registers,
      collect () { this.set(sources.inbox().count) }
    })
    new Gauge({
      name: 'burrow_inbox_quota_messages',
      help: 'Messages the inbox may hold (messages.inboxMaxCount)',
      registers,
      collect () { this.set(sources.inbox().maxCount) }
    })
    new Gauge({
      name: 'burrow_reachability',
      help: 'Reachability: 1 for the current state (public, private, unknown), 0 for the others',
      labelNames: ['state'],
      registers,
      collect () {
        const now = sources.reachability()
        for (const state of REACHABILITY_STATES) this.set({ state }, state === now ? 1 : 0)
      }
    })
    new Gauge({
      name: 'burrow_port_mappings',
      help: 'Port mappings held, by protocol and state (confirmed: a dial-back reached it, so it is announced)',
      labelNames: ['protocol', 'state'],
      registers,
      collect () {
        const mappings = sources.portMappings()
        for (const protocol of MAPPING_PROTOCOLS) {
          for (const confirmed of [true, false]) {
            this.set({ protocol, state: confirmed ? 'confirmed' : 'unconfirmed' }, mappings.filter(m => m.protocol === protocol && m.confirmed === confirmed).length)
          }
        }
      }
    })
    new Gauge({
      name: 'burrow_relay_reservations_held',
      help: 'Relay reservations this node holds on relays (client)',
      registers,
      collect () { this.set(sources.reservationsHeld()) }
    })
    new Gauge({
      name: 'burrow_relay_reservations_served',
      help: 'Relay reservations this node holds for others (relay server; 0 when it runs none)',
      registers,
      collect () { this.set(sources.relayServer()?.reservations ?? 0) }
    })
    new Counter({
      name: 'burrow_relay_refusals_total',
      help: 'Relay requests refused, by reason: the cap that refused (maxPerIp: inbound connections, maxCircuitsPerPeer, maxCircuitsPerIp, maxReservations, maxReservationsPerIp, reservationsPerIpPerHour) or malformed',
      labelNames: ['reason'],
      registers,
      collect () {
        this.reset()
        for (const [reason, n] of sources.relayServer()?.refusals ?? []) this.inc({ reason }, n)
      }
    })
    new Gauge({
      name: 'burrow_dht_routing_table_peers',
      help: 'Peers in the DHT routing table',
      registers,
      collect () { this.set(sources.routingTableSize()) }
    })
    new Counter({
      name: 'burrow_udppunch_probes_sent_total',
      help: 'WebRTC dials (ICE connectivity probes through our relays\' STUN) the UDP punch path started',
      registers,
      collect () { this.reset(); this.inc(sources.udpPunch.probesSent) }
    })
  }

  /** Subscribes to the services' events; safe to call twice. */
  start (): void {
    if (this.listeners.length > 0) return
    const { holePunch, udpPunch, messages } = this.sources
    const onTcp = (evt: CustomEvent<PunchAttempt>): void => { this.punch('tcp', evt.detail) }
    const onUdp = (evt: CustomEvent<PunchAttempt>): void => { this.punch('udp', evt.detail) }
    const onAcked = (): void => { this.acked.inc() }
    const onFailed = (): void => { this.failed.inc() }
    holePunch.addEventListener('holepunch:attempt', onTcp)
    udpPunch.addEventListener('udppunch:attempt', onUdp)
    messages.addEventListener('message:delivered', onAcked)
    messages.addEventListener('message:failed', onFailed)
    this.listeners.push(() => {
      holePunch.removeEventListener('holepunch:attempt', onTcp)
      udpPunch.removeEventListener('udppunch:attempt', onUdp)
      messages.removeEventListener('message:delivered', onAcked)
      messages.removeEventListener('message:failed', onFailed)
    })
  }

  stop (): void {
    for (const off of this.listeners.splice(0)) off()
  }

  private punch (method: 'tcp' | 'udp', attempt: PunchAttempt): void {
    this.punches.inc({ method, outcome: attempt.outcome })
    if (attempt.outcome === 'direct') this.relayedToDirect.observe({ method }, Math.max(0, attempt.sinceRelayedMs) / 1000)
  }
}
