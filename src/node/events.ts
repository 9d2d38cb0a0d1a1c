import { logger } from '@libp2p/logger'
import { isRelayed } from '../connections/index.js'
import { externalMultiaddr } from '../portmap/index.js'
import type { BurrowEventPayloads, BurrowEventType } from '../events/index.js'
import type { BurrowLibp2p } from './libp2p.js'
import type { Messaging, InboxMessage, OutboxEntry } from '../messaging/index.js'
import type { ReachabilityState } from '../nat/index.js'
import type { HolePunchAttempt } from '../holepunch/index.js'
import type { UdpPunchAttempt } from '../udppunch/index.js'
import type { Connection } from '@libp2p/interface'

const log = logger('burrow:node:events')

export type EventSink = <K extends BurrowEventType>(type: K, data: BurrowEventPayloads[K]) => void

interface Source { target: EventTarget, type: string, handler: (evt: Event) => void }

/**
 * Turns the services' own events into the node's typed stream (DESIGN.md, "Events").
 * `start()` subscribes to each service, `stop()` removes every listener it added.
 */
export class NodeEventSources {
  private readonly libp2p: BurrowLibp2p
  private readonly messaging: Messaging
  private readonly sink: EventSink
  private readonly sources: Source[] = []
  /** relays we hold a reservation on, as last told */
  private reservations = new Map<string, string | null>()

  constructor (libp2p: BurrowLibp2p, messaging: Messaging, sink: EventSink) {
    this.libp2p = libp2p
    this.messaging = messaging
    this.sink = sink
  }

  start (): void {
    if (this.sources.length > 0) return
    const { libp2p, sink } = this
    const s = libp2p.services
    // the internal bus, subscribed before libp2p starts its services: a connection is
    // told before the hole punch its opening starts
    const bus = s.internals.events
    this.on<Connection>(bus, 'connection:open', conn => {
      sink('connection:opened', { peer: conn.remotePeer.toString(), path: pathOf(conn), remoteAddress: conn.remoteAddr.toString(), direction: conn.direction })
    })
    this.on<Connection>(bus, 'connection:close', conn => {
      sink('connection:closed', { peer: conn.remotePeer.toString(), path: pathOf(conn), remoteAddress: conn.remoteAddr.toString() })
    })
    this.on<ReachabilityState>(s.reachability, 'reachability:changed', r => {
      sink('reachability:changed', { reachability: r.reachability, source: r.source, reason: r.reason, mapping: r.mapping, behindNat: r.behindNat ?? null })
    })
    this.on<{ address: string, by: string }>(s.reachability, 'address:observed', a => { sink('address:observed', a) })
    type Mapping = Parameters<typeof externalMultiaddr>[0] & { protocol: string, internalIp: string, internalPort: number, transport: 'tcp' | 'udp', expiresAt: number | null }
    const mapping = (m: Mapping): BurrowEventPayloads['mapping:created'] => ({
      protocol: m.protocol,
      transport: m.transport,
      internal: `/ip4/${m.internalIp}/${m.transport}/${m.internalPort}`,
      external: externalMultiaddr(m),
      expiresAt: m.expiresAt != null ? new Date(m.expiresAt).toISOString() : null
    })
    this.on<Mapping>(s.portMapper, 'nat:mapping-created', m => { sink('mapping:created', mapping(m)) })
    this.on<Mapping>(s.portMapper, 'nat:mapping-renewed', m => { sink('mapping:renewed', mapping(m)) })
    this.on<Mapping & { reason: string }>(s.portMapper, 'nat:mapping-lost', m => {
      sink('mapping:lost', { protocol: m.protocol, transport: m.transport, external: externalMultiaddr(m), reason: m.reason })
    })
    // the relay addresses change with each reservation made or lost
    this.on(bus, 'self:peer:update', () => { this.diffReservations() })
    this.on<{ peer: string, role: 'initiator' | 'responder', attempt: number }>(s.holePunch, 'holepunch:started', a => {
      sink('holepunch:started', { ...a, transport: 'tcp' })
    })
    this.on<HolePunchAttempt>(s.holePunch, 'holepunch:attempt', a => {
      sink('holepunch:attempt', { peer: a.peer, transport: 'tcp', attempt: a.attempt, outcome: a.outcome, detail: a.detail, durationMs: a.durationMs })
      if (a.outcome === 'direct') sink('holepunch:direct', { peer: a.peer, transport: 'tcp', remoteAddress: a.detail, sinceRelayedMs: a.sinceRelayedMs })
    })
    this.on<{ peer: string, reason: string }>(s.holePunch, 'holepunch:failed', f => { sink('holepunch:failed', { ...f, transport: 'tcp' }) })
    this.on<{ peer: string, attempt: number }>(s.udpPunch, 'udppunch:started', a => {
      // the WebRTC dial is made by the side that got the relayed connection
      sink('holepunch:started', { ...a, transport: 'udp', role: 'initiator' })
    })
    this.on<UdpPunchAttempt>(s.udpPunch, 'udppunch:attempt', a => {
      sink('holepunch:attempt', { peer: a.peer, transport: 'udp', attempt: a.attempt, outcome: a.outcome, detail: a.detail, durationMs: a.durationMs })
      if (a.outcome === 'direct') sink('holepunch:direct', { peer: a.peer, transport: 'udp', remoteAddress: a.detail, sinceRelayedMs: a.sinceRelayedMs })
    })
    this.on<{ peer: string, reason: string }>(s.udpPunch, 'udppunch:failed', f => { sink('holepunch:failed', { ...f, transport: 'udp' }) })
    this.on<InboxMessage>(this.messaging, 'message', m => {
      sink('message:received', { id: m.id, from: m.from, bytes: m.body.byteLength, via: m.via })
    })
    this.on<{ id: string, to: string }>(this.messaging, 'message:delivered', d => { sink('message:delivered', { id: d.id, to: d.to }) })
    this.on<OutboxEntry>(this.messaging, 'message:failed', e => {
      sink('message:failed', { id: e.id, to: e.to, reason: e.lastError ?? 'not delivered' })
    })
    this.diffReservations()
  }

  stop (): void {
    for (const { target, type, handler } of this.sources.splice(0)) target.removeEventListener(type, handler)
  }

  /** Reservations made or lost since the last look. */
  diffReservations (): void {
    const held = this.libp2p.services.relayClient.reservations()
    const now = new Map(held.map(r => [r.relay, r.expiresAt]))
    for (const r of held) {
      if (!this.reservations.has(r.relay)) this.sink('reservation:created', { relay: r.relay, expiresAt: r.expiresAt, addresses: r.addresses })
    }
    for (const relay of this.reservations.keys()) {
      if (!now.has(relay)) this.sink('reservation:lost', { relay })
    }
    this.reservations = now
  }

  private on<T>(target: EventTarget | { addEventListener: unknown, removeEventListener: unknown }, type: string, fn: (detail: T) => void): void {
    const handler = (evt: Event): void => {
      // a malformed detail must not stop the service that sent it
      try {
        fn((evt as CustomEvent<T>).detail)
      } catch (err) {
        log.error('could not turn %s into an event - %e', type, err)
      }
    }
    const t = target as EventTarget
    t.addEventListener(type, handler)
    this.sources.push({ target: t, type, handler })
  }
}

function pathOf (conn: Connection): 'direct' | 'relayed' {
  return isRelayed(conn) ? 'relayed' : 'direct'
}
