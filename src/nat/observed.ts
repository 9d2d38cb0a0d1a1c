import { networkInterfaces } from 'node:os'
import { isPrivateIp } from '@libp2p/utils'
import { isCircuitAddress } from '../connections/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** One peer's report (identify's observedAddr) of where our connection came from. */
export interface Observation {
  observer: string
  observerIp: string
  ip: string
  port: number
  /** our side of the connection */
  direction: 'inbound' | 'outbound'
  /** an outbound connection that left from the stable dial port: its port is punchable */
  fromDialPort: boolean
  at: number
}

export type MappingBehaviour = 'endpoint-independent' | 'endpoint-dependent' | 'unknown'

/** Observations older than this are forgotten (a new public IP replaces the old one). */
export const OBSERVATION_TTL_MS = 10 * 60_000

/**
 * Observations kept at once (one per observer and direction); past it the stalest go.
 * Peers are free to make, so every one of them must not cost a map entry forever; 256
 * is far above the handful of peers that agreeing on an address needs (go-libp2p trusts
 * an observed address once 4 observers report it).
 */
export const MAX_OBSERVATIONS = 256

/**
 * The addresses other peers saw our TCP connections come from. Outbound connections
 * all leave from one dial port, so what two or more peers agree on is our public
 * TCP address for hole punching, and whether they agree tells the NAT's mapping
 * behaviour (RFC 4787: endpoint-independent vs endpoint-dependent).
 */
export class ObservedAddresses {
  private readonly byObserver = new Map<string, Observation>()

  add (obs: Observation): void {
    // a connection from an ephemeral port (the dial port's TIME_WAIT fallback) must not wipe
    // what the same observer saw of the dial port: that is the punchable address
    const key = `${obs.observer}/${obs.direction}/${obs.fromDialPort ? 'dial-port' : 'other'}`
    // re-inserted, so the map's order is the order of the latest reports: the first is the stalest
    this.byObserver.delete(key)
    this.byObserver.set(key, obs)
    this.prune(obs.at)
  }

  /** Drops what is older than OBSERVATION_TTL_MS, then the stalest past MAX_OBSERVATIONS. */
  prune (now = Date.now()): void {
    const cutoff = now - OBSERVATION_TTL_MS
    for (const [k, o] of this.byObserver) if (o.at < cutoff) this.byObserver.delete(k)
    for (const k of this.byObserver.keys()) {
      if (this.byObserver.size <= MAX_OBSERVATIONS) break
      this.byObserver.delete(k)
    }
  }

  removeObserver (observer: string): void {
    for (const k of [...this.byObserver.keys()]) if (k.startsWith(`${observer}/`)) this.byObserver.delete(k)
  }

  private fresh (direction?: 'inbound' | 'outbound'): Observation[] {
    const cutoff = Date.now() - OBSERVATION_TTL_MS
    return [...this.byObserver.values()].filter(o => o.at >= cutoff && (direction == null || o.direction === direction))
  }

  /** ip:port candidates for hole punching, the most agreed-on first, with how many peers saw each. */
  candidates (): Array<{ ip: string, port: number, observers: number }> {
    const count = new Map<string, { ip: string, port: number, observers: Set<string> }>()
    for (const o of this.fresh('outbound')) {
      if (!o.fromDialPort) continue
      const k = `${o.ip}:${o.port}`
      const c = count.get(k) ?? { ip: o.ip, port: o.port, observers: new Set<string>() }
      c.observers.add(o.observer)
      count.set(k, c)
    }
    return [...count.values()]
      .map(c => ({ ip: c.ip, port: c.port, observers: c.observers.size }))
      .sort((a, b) => b.observers - a.observers)
  }

  /** An address at least `min` peers agree on. */
  confirmed (min = 2): Array<{ ip: string, port: number, observers: number }> {
    return this.candidates().filter(c => c.observers >= min)
  }

  /** Public IPs others see, and whether we are behind a NAT (the IP is none of ours). */
  publicIps (): string[] {
    return [...new Set(this.fresh().map(o => o.ip))]
  }

  /**
   * Whether we sit behind a NAT: peers see our connections come from an IP that is none
   * of ours. Peers lie, and PeerIds are free, so each observer IP has one vote (its
   * latest report), and one vote decides only while no other IP contradicts it:
   * - no reports: undefined;
   * - NAT votes from two or more IPs, more than the votes for one of our own IPs: true;
   * - a NAT vote from exactly one IP: true only when it is the only IP reporting (a node
   *   behind a NAT often knows just its relay, and must ask it for a reservation at once);
   *   one IP against any other cannot flip the verdict of the rest;
   * - otherwise false.
   * Observers on our LAN (at private addresses) see our LAN address whether or not a NAT
   * stands between us and the internet, so they vote only when no one else reports.
   */
  behindNat (): boolean | undefined {
    const seen = this.fresh()
    if (seen.length === 0) return undefined
    const local = localIps()
    const outside = seen.filter(o => isPrivateIp(o.observerIp) === false)
    const voters = outside.length > 0 ? outside : seen
    const vote = new Map<string, boolean>()
    for (const o of voters.sort((a, b) => a.at - b.at)) vote.set(o.observerIp, !local.has(o.ip))
    const nat = [...vote.values()].filter(v => v).length
    const notNat = vote.size - nat
    if (nat >= 2) return nat > notNat
    return nat === 1 && notNat === 0
  }

  /**
   * Endpoint-independent when peers at two or more different IPs saw the same public
   * port for our one dial port; endpoint-dependent when they saw different ones.
   */
  mapping (): MappingBehaviour {
    const outbound = this.fresh('outbound').filter(o => o.fromDialPort)
    const byObserverIp = new Map<string, Observation>()
    for (const o of outbound) byObserverIp.set(o.observerIp, o)
    if (byObserverIp.size < 2) return 'unknown'
    const ports = new Set([...byObserverIp.values()].map(o => `${o.ip}:${o.port}`))
    return ports.size === 1 ? 'endpoint-independent' : 'endpoint-dependent'
  }

  /** Every fresh observation (copies), e.g. for `burrow doctor` to read one relay's report. */
  list (): Observation[] {
    return this.fresh().map(o => ({ ...o }))
  }

  size (): number {
    return this.byObserver.size
  }
}

/** ip and TCP port of a plain /ip4|ip6/X/tcp/P multiaddr, or undefined. */
export function tcpEndpoint (ma: Multiaddr): { ip: string, port: number } | undefined {
  const parts = ma.getComponents()
  const ip = parts[0]
  const tcp = parts[1]
  if (ip == null || tcp == null || (ip.name !== 'ip4' && ip.name !== 'ip6') || tcp.name !== 'tcp') return undefined
  if (isCircuitAddress(ma)) return undefined
  return { ip: ip.value ?? '', port: Number(tcp.value) }
}

export function localIps (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) out.add(i.address)
  }
  return out
}
