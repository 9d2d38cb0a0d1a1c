/**
 * The port-mapping client: finds which protocol the gateway speaks, maps the TCP listen
 * port(s), keeps the mappings alive, follows router reboots and external address changes,
 * announces a mapped address only once a dial-back (AutoNAT v2) reached it, and deletes
 * mappings on stop.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { classifyIPv4, defaultGateway, externalMultiaddr } from './addresses.js'
import { isCircuitAddress } from '../connections/index.js'
import {
  DEFAULT_CHECK_INTERVAL_SECONDS, DEFAULT_LIFETIME_SECONDS, PROBE_RETRANSMIT_MS, RETRY_AFTER_FAILURE_MS,
  SSDP_TIMEOUT_MS, UNMAP_ON_STOP_TIMEOUT_MS
} from './constants.js'
import { GatewayTimeoutError, MappingRefusedError } from './errors.js'
import { NatPmpClient } from './nat-pmp.js'
import { PcpClient } from './pcp.js'
import { UpnpClient } from './upnp.js'
import type { AddressKind } from './addresses.js'
import type { MapResult, MappingClient, MappingProtocolName, PortMappingMode, ProtocolProbe } from './types.js'
import type { AbortOptions, Libp2pEvents, Startable, TypedEventTarget, Logger, ComponentLogger } from '@libp2p/interface'
import type { AddressManager, TransportManager } from '@libp2p/interface-internal'


export interface PortMapperInit {
  mode?: PortMappingMode
  /** LAN-only: map nothing */
  lanOnly?: boolean
  /** manual forwards (config `announce`): reported as 'manual' mappings; nothing is asked of the gateway */
  announce?: string[]
  /** lifetime asked for (s); renewed at half of what the gateway grants */
  lifetimeSeconds?: number
  /** how often the gateway is checked for a new external address or a reboot (ms) */
  checkIntervalMs?: number
  /** the gateway: the NAT-PMP/PCP server, and the only host whose UPnP answers are used; default: the default route's gateway */
  gateway?: string
  /** the IGD description URL; default: found by SSDP */
  upnpLocation?: string
  /** the gateway's NAT-PMP/PCP UDP port; default 5351 (RFC 6886 §3.1). A seam for tests against a fake gateway */
  gatewayPort?: number
  /** where SSDP M-SEARCHes go; default the multicast group 239.255.255.250:1900. A seam for tests */
  ssdpTarget?: { address: string, port: number }
  /** NAT-PMP/PCP retransmission intervals (ms) once the gateway is known to answer; default REQUEST_RETRANSMIT_MS */
  retransmitMs?: number[]
  /** after a failure, the next attempt comes this long later (ms); default RETRY_AFTER_FAILURE_MS */
  retryAfterFailureMs?: number
}

export interface PortMapperComponents {
  addressManager: AddressManager
  transportManager: TransportManager
  /** 'self:peer:update' tells when a dial-back confirmed (or no longer confirms) a mapped address */
  events?: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** One mapping this node holds on the gateway. */
export interface ActiveMapping {
  protocol: MappingProtocolName
  transport: 'tcp' | 'udp'
  internalIp: string
  internalPort: number
  externalIp: string
  externalPort: number
  lifetimeSeconds: number
  /** ms timestamps */
  createdAt: number
  renewedAt: number
  /** null: permanent (UPnP without lease) */
  expiresAt: number | null
  /**
   * whether the external address was offered to the address manager as a candidate (it is
   * public, not behind another NAT); a dial-back must still confirm it
   */
  offered: boolean
  /** whether a dial-back (AutoNAT v2) reached the external address, so it is announced */
  announced: boolean
}

export interface MappingLost extends ActiveMapping {
  reason: string
}

export interface PortMapperEvents {
  'nat:mapping-created': CustomEvent<ActiveMapping>
  /** a dial-back reached the mapped address: it is announced from now on */
  'nat:mapping-confirmed': CustomEvent<ActiveMapping>
  'nat:mapping-renewed': CustomEvent<ActiveMapping>
  'nat:mapping-lost': CustomEvent<MappingLost>
  'nat:external-address-changed': CustomEvent<{ previous: string, current: string }>
  'nat:double-nat': CustomEvent<{ externalIp: string, kind: AddressKind }>
}

export type PortMapperStatus = 'off' | 'lan-only' | 'manual' | 'not-needed' | 'starting' | 'discovering' | 'mapped' | 'no-protocol' | 'refused' | 'double-nat' | 'failed'

/** The port mapper's view, for `burrow nat` and `status`. */
export interface PortMapperReport {
  mode: PortMappingMode
  status: PortMapperStatus
  gateway: string | null
  /** every protocol's verdict from the last discovery */
  protocols: ProtocolProbe[]
  /** the protocol in use */
  active: MappingProtocolName | null
  externalIp: string | null
  externalIpKind: AddressKind | null
  doubleNat: boolean
  mappings: ActiveMapping[]
  manual: Array<{ internal: string, external: string }>
  lastError: string | null
  /** ms from start to the first mapping, and to its address being announced */
  timings: { mappedAfterMs: number | null, announcedAfterMs: number | null }
}

/** A transport address's IP and port. */
interface ListenPort { ip: string, port: number }

export class PortMapper extends TypedEventEmitter<PortMapperEvents> implements Startable {
  private readonly components: PortMapperComponents
  private readonly mode: PortMappingMode
  private readonly init: PortMapperInit
  private readonly lifetimeSeconds: number
  private readonly checkIntervalMs: number
  private client: MappingClient | undefined
  private readonly mappings = new Map<string, ActiveMapping>()
  /** external addresses a dial-back confirmed, and when: one mapped again (router reboot) is trusted again */
  private readonly confirmedBefore = new Map<string, number>()
  private probes: ProtocolProbe[] = []
  private status: PortMapperStatus = 'off'
  private gateway: string | undefined
  private externalIp: string | undefined
  private lastError: string | undefined
  private startedAt = 0
  private mappedAt: number | undefined
  private announcedAt: number | undefined
  private controller: AbortController | undefined
  private checkTimer: ReturnType<typeof setTimeout> | undefined
  private readonly renewTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private queue: Promise<void> = Promise.resolve()
  private started = false
  private readonly onSelfUpdate = (): void => { this.refreshConfirmations() }

  private readonly log: Logger

  constructor (components: PortMapperComponents, init: PortMapperInit = {}) {
    super()
    this.log = components.logger.forComponent('burrow:portmap')
    this.components = components
    this.init = init
    this.mode = init.mode ?? 'auto'
    this.lifetimeSeconds = init.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS
    this.checkIntervalMs = init.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_SECONDS * 1000
  }

  readonly [Symbol.toStringTag] = 'burrow:port-mapper'

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.startedAt = Date.now()
    this.controller = new AbortController()
    this.components.events?.addEventListener('self:peer:update', this.onSelfUpdate)
    if ((this.init.announce ?? []).length > 0) this.status = 'manual'
    else if (this.init.lanOnly === true) this.status = 'lan-only'
    else if (this.mode === 'off') this.status = 'off'
    else this.status = 'starting'
  }

  /** After the transports listen: there is a port to map. Does not hold up start. */
  async afterStart (): Promise<void> {
    if (this.status !== 'starting') return
    if (this.listenPorts().some(p => classifyIPv4(p.ip) === 'public')) {
      // a host with a public address needs no mapping
      this.status = 'not-needed'
      return
    }
    this.schedule(async () => { await this.establish() })
  }

  /** Stops the timers, deletes every mapping on the gateway and withdraws its addresses. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.components.events?.removeEventListener('self:peer:update', this.onSelfUpdate)
    clearTimeout(this.checkTimer)
    for (const t of this.renewTimers.values()) clearTimeout(t)
    this.renewTimers.clear()
    this.controller?.abort()
    await this.queue.catch(() => {})
    const client = this.client
    const signal = AbortSignal.timeout(UNMAP_ON_STOP_TIMEOUT_MS)
    await Promise.all([...this.mappings.values()].map(async m => {
      this.withdraw(m)
      if (client == null) return
      try {
        await client.unmap(toResult(m), { signal })
      } catch (err) {
        this.log.error('could not delete mapping of port %d - %e', m.internalPort, err)
      }
    }))
    this.mappings.clear()
    this.client = undefined
  }

  /** Runs one operation at a time (discovery, renewals and checks never overlap). */
  private schedule (fn: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (!this.started) return
      try {
        await fn()
      } catch (err) {
        if (!this.started) return
        this.log.error('port mapping failed - %e', err)
        this.lastError = (err as Error).message
      }
    })
  }

  private get signal (): AbortSignal | undefined {
    return this.controller?.signal
  }

  private armCheck (ms = this.checkIntervalMs): void {
    clearTimeout(this.checkTimer)
    if (!this.started) return
    this.checkTimer = setTimeout(() => { this.schedule(async () => { await this.check() }) }, ms)
  }

  /** IPv4 TCP transport addresses other than loopback: what the gateway can forward to. */
  private listenPorts (): ListenPort[] {
    const out: ListenPort[] = []
    for (const ma of this.components.transportManager.getAddrs()) {
      const c = ma.getComponents()
      const ip = c.find(x => x.name === 'ip4')?.value
      const port = c.find(x => x.name === 'tcp')?.value
      if (ip == null || port == null || isCircuitAddress(ma)) continue
      if (classifyIPv4(ip) === 'loopback') continue
      if (!out.some(p => p.port === Number(port))) out.push({ ip, port: Number(port) })
    }
    return out
  }

  /**
   * Discovery: which protocols answer. In auto mode PCP, NAT-PMP and UPnP are asked at once;
   * PCP and NAT-PMP answer within one round trip on a LAN, and are preferred (one datagram per
   * renewal, and their epoch reveals a reboot), so UPnP is waited for only when neither answered.
   */
  private async discover (options: AbortOptions): Promise<Array<{ probe: ProtocolProbe, client?: MappingClient }>> {
    const wanted: MappingProtocolName[] = this.mode === 'auto' ? ['pcp', 'nat-pmp', 'upnp'] : [this.mode as MappingProtocolName]
    const schedule = this.mode === 'auto' ? PROBE_RETRANSMIT_MS : undefined
    let gateway: string | undefined = this.init.gateway
    if (gateway == null && (wanted.includes('pcp') || wanted.includes('nat-pmp') || this.init.upnpLocation == null)) {
      gateway = await defaultGateway().catch((err: Error) => { this.lastError = err.message; return undefined })
    }
    this.gateway = gateway
    const runs = wanted.map(async (protocol): Promise<{ probe: ProtocolProbe, client?: MappingClient }> => {
      try {
        if (protocol === 'upnp') {
          if (gateway == null && this.init.upnpLocation == null) return { probe: { protocol, answered: 'unknown', detail: 'no default gateway (UPnP answers are taken only from the gateway)' } }
          const client = await UpnpClient.discover({ ...options, location: this.init.upnpLocation, gateway, timeoutMs: SSDP_TIMEOUT_MS, target: this.init.ssdpTarget })
          const { externalIp } = await client.externalIp(options)
          return { probe: { protocol, answered: 'yes', externalIp, detail: client.gateway }, client }
        }
        if (gateway == null) return { probe: { protocol, answered: 'unknown', detail: 'no default gateway' } }
        if (protocol === 'pcp') {
          const client = new PcpClient(gateway, this.init.gatewayPort, this.init.retransmitMs)
          const r = await client.announce(options, schedule)
          if (r.resultCode !== 0) return { probe: { protocol, answered: 'refused', detail: `ANNOUNCE result ${r.resultCode}` } }
          return { probe: { protocol, answered: 'yes', detail: gateway }, client }
        }
        const client = new NatPmpClient(gateway, this.init.gatewayPort, this.init.retransmitMs)
        const { externalIp } = await client.externalAddress(options, schedule)
        return { probe: { protocol, answered: 'yes', externalIp, detail: gateway }, client }
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        if (err instanceof MappingRefusedError) return { probe: { protocol, answered: 'refused', detail: err.message } }
        // silence, an ICMP port unreachable, or no HTTP server: nobody speaks the protocol there
        const silent = err instanceof GatewayTimeoutError || ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'].includes((err as NodeJS.ErrnoException).code ?? '')
        const detail = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? `nothing listens there (${(err as Error).message})` : (err as Error).message
        return { probe: { protocol, answered: silent ? 'no' : 'refused', detail } }
      }
    })
    // dense, not `new Array(n)`: map() skips holes, and a protocol still being asked would show as null
    const results = Array.from<{ probe: ProtocolProbe, client?: MappingClient } | undefined>({ length: wanted.length })
    const tracked = runs.map(async (p, i) => { results[i] = await p })
    if (this.mode === 'auto') {
      // PCP and NAT-PMP first; UPnP only if neither answered
      await Promise.all(tracked.slice(0, 2))
      if (!results.slice(0, 2).some(r => r?.client != null)) await tracked[2]
      // UPnP goes on in the background; stop() aborts it, and that rejection is no one's to handle
      else void tracked[2]?.then(() => { this.probes = results.map((r, i) => r?.probe ?? { protocol: wanted[i] ?? 'upnp', answered: 'unknown' }) }, () => {})
    } else {
      await Promise.all(tracked)
    }
    this.probes = results.map((r, i) => r?.probe ?? { protocol: wanted[i] ?? 'upnp', answered: 'unknown', detail: 'still asking' })
    return results.filter((r): r is { probe: ProtocolProbe, client?: MappingClient } => r != null)
  }

  /** Discovers the gateway and maps every listen port with the first protocol that grants it. */
  private async establish (): Promise<void> {
    const signal = this.signal
    this.status = 'discovering'
    const found = await this.discover({ signal })
    const usable = found.filter(f => f.client != null)
    const upstream = this.upstreamNat(found.map(f => f.probe))
    if (usable.length === 0) {
      this.status = upstream ? 'double-nat' : found.some(f => f.probe.answered === 'refused') ? 'refused' : 'no-protocol'
      this.lastError = found.map(f => `${f.probe.protocol}: ${f.probe.detail ?? f.probe.answered}`).join('; ')
      this.log('no mapping protocol usable: %s', this.lastError)
      this.armCheck()
      return
    }
    for (const { client } of usable) {
      if (client == null) continue
      try {
        await this.mapAll(client, 'created')
        this.client = client
        this.lastError = undefined
        this.armCheck()
        return
      } catch (err) {
        if (signal?.aborted === true) throw err
        const probe = this.probes.find(p => p.protocol === client.protocol)
        if (probe != null && err instanceof MappingRefusedError) { probe.answered = 'refused'; probe.detail = err.message }
        this.lastError = `${client.protocol}: ${(err as Error).message}`
        this.log('%s did not map - %e', client.protocol, err)
      }
    }
    // 'refused' only when the gateway said no; a garbage or missing answer to the mapping
    // request is a failure, reported with what was wrong (lastError), not "check its settings"
    this.status = this.upstreamNat(this.probes) ? 'double-nat' : this.probes.some(p => p.answered === 'refused') ? 'refused' : 'failed'
    this.armCheck()
  }

  /**
   * Whether the gateway itself sits behind another NAT: it reports a private, carrier-grade or
   * empty external address, or (NAT-PMP result 3, RFC 6886 §3.5) has none. miniupnpd refuses
   * every mapping in that case, so this is known before any mapping is made.
   */
  private upstreamNat (probes: ProtocolProbe[]): boolean {
    for (const p of probes) {
      const kind = p.externalIp != null && p.externalIp !== '' ? classifyIPv4(p.externalIp) : undefined
      if (kind != null && kind !== 'public') {
        this.externalIp = p.externalIp
        return true
      }
      if (/network failure/i.test(p.detail ?? '')) return true
      // an IGD answers GetExternalIPAddress with nothing when it has no usable address (UPnP IGD:2 §2.5.20)
      if (p.protocol === 'upnp' && p.answered === 'yes' && p.externalIp === '') return true
    }
    return false
  }

  /** Maps (or re-maps) every listen port; `event` says what to report. */
  private async mapAll (client: MappingClient, event: 'created' | 'renewed'): Promise<void> {
    const ports = this.listenPorts()
    if (ports.length === 0) throw new Error('no IPv4 TCP listen address to map')
    for (const p of ports) {
      const key = `tcp/${p.port}`
      const previous = this.mappings.get(key)
      const result = await client.map({
        protocol: 'tcp',
        internalPort: p.port,
        // keep the external port across renewals, reboots and address changes where the router allows
        suggestedExternalPort: previous?.externalPort ?? p.port,
        lifetimeSeconds: this.lifetimeSeconds
      }, { signal: this.signal })
      this.record(client, result, previous, event)
    }
  }

  private record (client: MappingClient, r: MapResult, previous: ActiveMapping | undefined, event: 'created' | 'renewed'): void {
    const now = Date.now()
    const key = `${r.protocol}/${r.internalPort}`
    const changed = previous == null || previous.externalIp !== r.externalIp || previous.externalPort !== r.externalPort ||
      previous.internalIp !== r.internalIp || previous.protocol !== client.protocol
    if (previous != null && changed) this.withdraw(previous)
    const mapping: ActiveMapping = {
      protocol: client.protocol,
      transport: r.protocol,
      internalIp: r.internalIp,
      internalPort: r.internalPort,
      externalIp: r.externalIp,
      externalPort: r.externalPort,
      lifetimeSeconds: r.lifetimeSeconds,
      createdAt: changed ? now : (previous?.createdAt ?? now),
      renewedAt: now,
      expiresAt: r.lifetimeSeconds > 0 ? now + r.lifetimeSeconds * 1000 : null,
      offered: previous?.offered === true && !changed,
      announced: previous?.announced === true && !changed
    }
    this.mappings.set(key, mapping)
    this.mappedAt ??= now
    if (this.externalIp != null && this.externalIp !== r.externalIp) {
      this.safeDispatch('nat:external-address-changed', { previous: this.externalIp, current: r.externalIp })
    }
    this.externalIp = r.externalIp
    const kind = classifyIPv4(r.externalIp)
    if (kind === 'public') {
      this.status = 'mapped'
      if (!mapping.offered) this.offer(mapping)
    } else {
      // another NAT upstream (or none assigned yet): this address cannot be reached from the internet
      this.status = 'double-nat'
      this.log('gateway external address %s is %s: double NAT, not announcing it', r.externalIp, kind)
      this.safeDispatch('nat:double-nat', { externalIp: r.externalIp, kind })
    }
    this.safeDispatch(changed || event === 'created' ? 'nat:mapping-created' : 'nat:mapping-renewed', { ...mapping })
    this.armRenewal(key, mapping)
  }

  /**
   * Offers a mapped address to the address manager as an unverified IP mapping. It is not
   * announced yet: the external address is only what the gateway says, and any LAN device
   * can claim to be the gateway or lie about it. AutoNAT v2 asks peers to dial it back; one
   * dial-back that reaches us confirms it (libp2p marks it verified, 'self:peer:update'), and
   * only then is it announced and the node public (refreshConfirmations).
   */
  private offer (m: ActiveMapping): void {
    this.components.addressManager.addPublicAddressMapping(m.internalIp, m.internalPort, m.externalIp, m.externalPort, m.transport)
    m.offered = true
    const key = `${m.externalIp}/${m.transport}/${m.externalPort}`
    const at = this.confirmedBefore.get(key)
    if (at != null && Date.now() - at < RECONFIRMED_TRUST_MS) {
      // the gateway lost the mapping (a reboot) and made it again on the very address a peer's
      // dial-back reached lately: that proof still holds, and AutoNAT, which keeps its verdict
      // per address, may not ask again for a long while
      this.log('mapped /ip4/%s/%s/%d again: a dial-back reached this address %d s ago, announcing it', m.externalIp, m.transport, m.externalPort, Math.round((Date.now() - at) / 1000))
      this.components.addressManager.confirmObservedAddr(multiaddr(`/ip4/${m.externalIp}/${m.transport}/${m.externalPort}`), { type: 'ip-mapping' })
    } else {
      this.log('mapped /ip4/%s/%s/%d: waiting for a dial-back to confirm it before announcing it', m.externalIp, m.transport, m.externalPort)
    }
    this.refreshConfirmations()
  }

  /** Follows the address manager: a mapping is announced while a dial-back confirms its address. */
  private refreshConfirmations (): void {
    if (![...this.mappings.values()].some(m => m.offered)) return
    const verified = new Set<string>()
    for (const a of this.components.addressManager.getAddressesWithMetadata()) {
      if (a.type !== 'ip-mapping' || !a.verified) continue
      const c = a.multiaddr.getComponents()
      const ip = c.find(x => x.name === 'ip4')?.value
      const port = c.find(x => x.name === 'tcp' || x.name === 'udp')
      if (ip != null && port != null) verified.add(`${ip}/${port.name}/${port.value ?? ''}`)
    }
    for (const m of this.mappings.values()) {
      if (!m.offered) continue
      const confirmed = verified.has(`${m.externalIp}/${m.transport}/${m.externalPort}`)
      if (confirmed === m.announced) continue
      m.announced = confirmed
      if (confirmed) {
        this.announcedAt ??= Date.now()
        this.confirmedBefore.set(`${m.externalIp}/${m.transport}/${m.externalPort}`, Date.now())
        while (this.confirmedBefore.size > 64) {
          const oldest = this.confirmedBefore.keys().next().value
          if (oldest === undefined) break
          this.confirmedBefore.delete(oldest)
        }
        this.log('a dial-back reached /ip4/%s/%s/%d: announcing it', m.externalIp, m.transport, m.externalPort)
        this.safeDispatch('nat:mapping-confirmed', { ...m })
      } else {
        this.log('/ip4/%s/%s/%d is no longer confirmed by dial-backs: not announced', m.externalIp, m.transport, m.externalPort)
      }
    }
  }

  private withdraw (m: ActiveMapping): void {
    if (!m.offered) return
    this.components.addressManager.removePublicAddressMapping(m.internalIp, m.internalPort, m.externalIp, m.externalPort, m.transport)
    m.offered = false
    m.announced = false
    this.log('withdrew /ip4/%s/%s/%d', m.externalIp, m.transport, m.externalPort)
  }

  /** Renewal at half the granted lifetime; PCP at a random point in [1/2, 5/8] of it (RFC 6887 §11.2.1). */
  private armRenewal (key: string, m: ActiveMapping): void {
    clearTimeout(this.renewTimers.get(key))
    if (m.lifetimeSeconds <= 0 || !this.started) return
    const fraction = m.protocol === 'pcp' ? 0.5 + Math.random() * 0.125 : 0.5
    const t = setTimeout(() => {
      this.schedule(async () => {
        const client = this.client
        if (client == null) return
        try {
          await this.mapAll(client, 'renewed')
        } catch (err) {
          await this.recover(`renewal failed: ${(err as Error).message}`)
        }
      })
    }, m.lifetimeSeconds * 1000 * fraction)
    this.renewTimers.set(key, t)
  }

  /** Drops every mapping (the gateway no longer holds or answers for them) and withdraws the addresses. */
  private loseAll (reason: string): void {
    for (const [key, m] of this.mappings) {
      this.withdraw(m)
      clearTimeout(this.renewTimers.get(key))
      this.renewTimers.delete(key)
      this.safeDispatch('nat:mapping-lost', { ...m, reason })
    }
    this.mappings.clear()
    this.client = undefined
  }

  /** After a failure: lose the mappings and rediscover the gateway (it may have a new address or port). */
  private async recover (reason: string): Promise<void> {
    this.log('%s: rediscovering the gateway', reason)
    this.lastError = reason
    this.loseAll(reason)
    await this.establish()
    if (this.client == null) this.armCheck(Math.min(this.init.retryAfterFailureMs ?? RETRY_AFTER_FAILURE_MS, this.checkIntervalMs))
  }

  /** The periodic check: new external address, lost state (reboot), or a gateway that stopped answering. */
  private async check (): Promise<void> {
    const client = this.client
    if (client == null || this.mappings.size === 0) {
      await this.establish()
      return
    }
    const ours = [...this.mappings.values()].map(toResult)
    let state
    try {
      state = await client.check(ours, { signal: this.signal })
    } catch (err) {
      if (this.signal?.aborted === true) throw err
      await this.recover(`gateway check failed: ${(err as Error).message}`)
      return
    }
    if (state.lostState) {
      this.log('the gateway lost our mappings (reboot?): mapping again')
      this.loseAll('the gateway lost its mappings (reboot)')
      this.client = client
      await this.remap(client, ours)
    } else if (state.externalIp !== '' && state.externalIp !== this.externalIp) {
      this.log('external address %s -> %s: mapping again', this.externalIp, state.externalIp)
      await this.remap(client, ours)
    }
    this.armCheck()
  }

  private async remap (client: MappingClient, previous: MapResult[]): Promise<void> {
    // suggest the same external ports again
    for (const r of previous) {
      const key = `${r.protocol}/${r.internalPort}`
      if (!this.mappings.has(key)) this.mappings.set(key, fromResult(client.protocol, r))
    }
    try {
      await this.mapAll(client, 'created')
    } catch (err) {
      await this.recover(`mapping again failed: ${(err as Error).message}`)
    }
  }

  private safeDispatch<K extends keyof PortMapperEvents> (type: K, detail: PortMapperEvents[K]['detail']): void {
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }))
    } catch (err) {
      this.log.error('a %s listener threw - %e', type, err)
    }
  }

  /** Whether a mapped address is announced right now (a dial-back confirmed it). */
  get reachable (): boolean {
    this.refreshConfirmations()
    return [...this.mappings.values()].some(m => m.announced)
  }

  /** Manual forwards: each announce address, with the listen address it reaches. */
  manualMappings (): Array<{ internal: string, external: string }> {
    const listen = this.listenPorts()
    return (this.init.announce ?? []).map(a => {
      const port = multiaddr(a).getComponents().find(c => c.name === 'tcp')?.value
      const inside = listen.find(p => String(p.port) === port) ?? listen[0]
      return { internal: inside != null ? `/ip4/${inside.ip}/tcp/${inside.port}` : '', external: a }
    })
  }

  /**
   * `status --json` portMappings (DESIGN.md): manual forwards and the gateway's mappings;
   * `confirmed` says whether a dial-back reached the external address (a manual forward is
   * the user's word, so it counts as confirmed).
   */
  portMappings (): Array<{ protocol: MappingProtocolName | 'manual', internal: string, external: string, expiresAt: string | null, confirmed: boolean }> {
    this.refreshConfirmations()
    return [
      ...this.manualMappings().map(m => ({ protocol: 'manual' as const, internal: m.internal, external: m.external, expiresAt: null, confirmed: true })),
      ...[...this.mappings.values()].map(m => ({
        protocol: m.protocol,
        internal: `/ip4/${m.internalIp}/${m.transport}/${m.internalPort}`,
        external: externalMultiaddr(m),
        expiresAt: m.expiresAt != null ? new Date(m.expiresAt).toISOString() : null,
        confirmed: m.announced
      }))
    ]
  }

  /** Reachability as port mapping knows it: public through a manual forward or an announced mapping; undefined when it cannot say. */
  reachability (): { reachability: 'public', reachabilitySource: 'manual' | 'port-mapping' } | undefined {
    if ((this.init.announce ?? []).length > 0) return { reachability: 'public', reachabilitySource: 'manual' }
    if (this.reachable) return { reachability: 'public', reachabilitySource: 'port-mapping' }
    return undefined
  }

  report (): PortMapperReport {
    this.refreshConfirmations()
    const kind = this.externalIp != null ? classifyIPv4(this.externalIp) : null
    return {
      mode: this.mode,
      status: this.status,
      gateway: this.client?.gateway ?? this.gateway ?? null,
      protocols: this.probes.map(p => ({ ...p })),
      active: this.client?.protocol ?? null,
      externalIp: this.externalIp ?? null,
      externalIpKind: kind,
      doubleNat: this.status === 'double-nat' || (kind != null && kind !== 'public'),
      mappings: [...this.mappings.values()].map(m => ({ ...m })),
      manual: this.manualMappings(),
      lastError: this.lastError ?? null,
      timings: {
        mappedAfterMs: this.mappedAt != null ? this.mappedAt - this.startedAt : null,
        announcedAfterMs: this.announcedAt != null ? this.announcedAt - this.startedAt : null
      }
    }
  }
}

function toResult (m: ActiveMapping): MapResult {
  return {
    protocol: m.transport,
    internalIp: m.internalIp,
    internalPort: m.internalPort,
    externalIp: m.externalIp,
    externalPort: m.externalPort,
    lifetimeSeconds: m.lifetimeSeconds
  }
}

function fromResult (protocol: MappingProtocolName, r: MapResult): ActiveMapping {
  const now = Date.now()
  return {
    protocol,
    transport: r.protocol,
    internalIp: r.internalIp,
    internalPort: r.internalPort,
    externalIp: r.externalIp,
    externalPort: r.externalPort,
    lifetimeSeconds: r.lifetimeSeconds,
    createdAt: now,
    renewedAt: now,
    expiresAt: null,
    offered: false,
    announced: false
  }
}

/** The libp2p service factory: `services: { portMapper: portMapper(init) }`. */
export function portMapper (init: PortMapperInit = {}): (components: PortMapperComponents) => PortMapper {
  return (components) => new PortMapper(components, init)
}

/**
 * How long a dial-back's proof of an external address is trusted for the same address mapped
 * again (after a router reboot): an hour, the order of libp2p's own address verification TTL.
 */
const RECONFIRMED_TRUST_MS = 60 * 60_000

