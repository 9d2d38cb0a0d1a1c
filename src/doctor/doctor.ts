/**
 * `burrow doctor`: asks instead of guessing (tailscale's netcheck, iroh doctor).
 * - TCP: each relay reports (identify's observedAddr) where our connection from the stable
 *   dial port came from; the same public ip:port seen by relays at different IPs means an
 *   endpoint-independent mapping (RFC 4787 §4.1), different ones endpoint-dependent.
 * - UDP: one socket sends a STUN Binding request (RFC 8489) to each relay's STUN server;
 *   the mapped addresses compare the same way. A second socket then sends to the first's
 *   mapped address: if the first receives it, the NAT hairpins (RFC 4787 §6).
 * - the gateway: PCP ANNOUNCE, NAT-PMP external address, UPnP GetExternalIPAddress; each
 *   answer is reported, and nothing is mapped.
 * - the RTT to each relay (libp2p ping).
 */
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeBindingRequest, mappedAddressOf, parseHeader, BINDING_REQUEST, PADDED_REQUEST_BYTES } from '../stun/index.js'
import { localIps, tcpEndpoint } from '../nat/index.js'
import { GatewayTimeoutError, MappingRefusedError, NatPmpClient, PcpClient, UpnpClient, defaultGateway } from '../portmap/index.js'
import {
  GATEWAY_PROBE_TIMEOUT_MS, HAIRPIN_TIMEOUT_MS, MAX_RELAYS_ASKED, RELAY_DIAL_TIMEOUT_MS, RELAY_PROBE_TIMEOUT_MS,
  STUN_RETRANSMIT_MS, STUN_TIMEOUT_MS
} from './constants.js'
import type { ObservedAddresses } from '../nat/index.js'
import type { MappingProtocolName, ProtocolProbe } from '../portmap/index.js'
import type { AbortOptions, Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Socket } from 'node:dgram'

const log = logger('burrow:doctor')

/** 'no-nat': the relays see one of our own addresses. */
export type MappingVerdict = 'endpoint-independent' | 'endpoint-dependent' | 'no-nat' | 'unknown'

export interface ProtocolVerdict {
  mapping: MappingVerdict
  /** what the verdict rests on, in one line */
  detail: string
}

export interface RelayProbe {
  peerId: string
  /** the relay's IP as we reach it (null: no direct connection to it) */
  ip: string | null
  rttMs: number | null
  /** our address as the relay saw our TCP connection from the dial port */
  tcp: { observed: string | null, fromDialPort: boolean, error: string | null }
  /** our address as the relay's STUN server saw our UDP socket */
  udp: { server: string | null, mapped: string | null, error: string | null }
}

export interface DoctorReport {
  relays: RelayProbe[]
  tcp: ProtocolVerdict
  udp: ProtocolVerdict
  /** a packet to our own public (STUN-mapped) UDP address came back to us */
  hairpin: { udp: 'yes' | 'no' | 'unknown', detail: string }
  gateway: { address: string | null, protocols: ProtocolProbe[] }
  /** what a peer can expect, in one sentence */
  verdict: string
  advice: string[]
  durationMs: number
}

/** What the doctor needs of libp2p (the node's instance fits). */
export interface DoctorLibp2p {
  getConnections: (peer?: PeerId) => Connection[]
  dial: (peer: PeerId, options?: AbortOptions) => Promise<Connection>
  services: {
    identify: { identify: (connection: Connection, options?: AbortOptions) => Promise<unknown> }
    ping: { ping: (ma: Multiaddr, options?: AbortOptions & { runOnLimitedConnection?: boolean }) => Promise<number> }
  }
}

export interface DoctorComponents {
  libp2p: DoctorLibp2p
  /** what peers reported of our TCP connections (filled by identify, see src/nat) */
  observed: ObservedAddresses
  /** PeerIds of the relays to ask: bootstrap peers and reserved relays */
  relays: string[]
  /** the relays' STUN port (0: do not ask over UDP) */
  stunPort: number
  /** whether port mapping is on, for the advice */
  portMappingMode: string
}

/** RFC 4787 §4.1 from (observer IP, our public ip:port) pairs; at least two observer IPs are needed. */
export function mappingFrom (seen: Array<{ observerIp: string, address: string }>, ours: Set<string>): ProtocolVerdict {
  const byIp = new Map<string, string>()
  for (const s of seen) byIp.set(s.observerIp, s.address)
  if (byIp.size === 0) return { mapping: 'unknown', detail: 'no relay answered' }
  const addresses = new Set(byIp.values())
  if ([...addresses].every(a => ours.has(hostOf(a)))) return { mapping: 'no-nat', detail: `relays see one of our own addresses (${[...addresses].join(', ')})` }
  if (byIp.size < 2) return { mapping: 'unknown', detail: `only one relay IP answered (${[...byIp.keys()].join('')}): two at different IPs are needed to compare` }
  const list = [...byIp].map(([ip, a]) => `${ip} saw ${a}`).join(', ')
  return addresses.size === 1
    ? { mapping: 'endpoint-independent', detail: `the same public address towards every relay: ${list}` }
    : { mapping: 'endpoint-dependent', detail: `a different public address towards each relay: ${list}` }
}

function hostOf (address: string): string {
  const i = address.lastIndexOf(':')
  return (i < 0 ? address : address.slice(0, i)).replace(/^\[|\]$/g, '')
}

/** The verdict sentence and advice from the probes. */
export function verdictOf (tcp: ProtocolVerdict, udp: ProtocolVerdict, gateway: ProtocolProbe[], portMappingMode: string): { verdict: string, advice: string[] } {
  const advice: string[] = []
  const offered = gateway.filter(p => p.answered === 'yes').map(p => p.protocol)
  const kinds = [tcp.mapping, udp.mapping]
  let verdict: string
  if (kinds.includes('no-nat')) {
    verdict = 'no NAT between this node and the relays: peers dial it directly (unless a firewall blocks the port)'
  } else if (kinds.includes('endpoint-independent')) {
    const which = tcp.mapping === 'endpoint-independent' && udp.mapping === 'endpoint-independent' ? 'TCP and UDP' : tcp.mapping === 'endpoint-independent' ? 'TCP' : 'UDP'
    verdict = `a cone NAT (endpoint-independent over ${which}): a peer behind a cone NAT will reach you directly (hole punching); one behind a symmetric NAT will go through a relay`
  } else if (kinds.includes('endpoint-dependent')) {
    verdict = 'a symmetric NAT (endpoint-dependent mapping): hole punching cannot predict your port, so peers behind NATs reach you through a relay; only peers with a public address or a mapped port go direct'
    advice.push('a router that keeps one public port per inside port (endpoint-independent mapping, "full cone" or "EIM") lets hole punching work')
  } else {
    verdict = 'unknown: fewer than two relays at different IPs answered, so the NAT could not be measured'
    advice.push('start with 2+ relays at different IPs in the bootstrap list (--bootstrap), each running `burrow daemon --relay-server on`')
  }
  if (offered.length > 0 && portMappingMode === 'off') {
    advice.push(`the router offers ${offered.join(', ')}: --port-mapping auto maps a port so that every peer reaches you directly`)
  } else if (offered.length === 0 && !kinds.includes('no-nat')) {
    advice.push('the router answered no mapping protocol (UPnP, NAT-PMP, PCP): enable one, or forward a port by hand and pass --announce')
  }
  if (advice.length === 0) advice.push('nothing to do')
  return { verdict, advice }
}

/** Runs every probe; never throws for a probe that failed (the report says why). */
export async function runDoctor (components: DoctorComponents, options: AbortOptions = {}): Promise<DoctorReport> {
  const started = Date.now()
  const relayIds = [...new Set(components.relays)].slice(0, MAX_RELAYS_ASKED)
  // the STUN socket stays open for the hairpin check: its mapping is the one tested
  const udpSocket = createSocket('udp4')
  try {
    const [relays, gateway] = await Promise.all([
      probeRelays(components, relayIds, udpSocket, options),
      probeGateway(options)
    ])
    return await reportFrom(components, relays, gateway, udpSocket, started, options)
  } finally {
    udpSocket.close()
  }
}

async function reportFrom (components: DoctorComponents, relays: RelayProbe[], gateway: DoctorReport['gateway'], udpSocket: Socket, started: number, options: AbortOptions): Promise<DoctorReport> {
  const ours = localIps()
  const tcp = mappingFrom(relays.filter(r => r.ip != null && r.tcp.observed != null && r.tcp.fromDialPort).map(r => ({ observerIp: r.ip ?? '', address: r.tcp.observed ?? '' })), ours)
  if (tcp.mapping === 'unknown' && relays.some(r => r.tcp.observed != null && !r.tcp.fromDialPort)) {
    tcp.detail += '; some connections did not leave from the dial port (see holePunch.dialPort)'
  }
  const udpSeen = relays.filter(r => r.ip != null && r.udp.mapped != null).map(r => ({ observerIp: r.ip ?? '', address: r.udp.mapped ?? '' }))
  const udp = mappingFrom(udpSeen, ours)
  if (udp.mapping === 'unknown' && components.stunPort <= 0) udp.detail = 'STUN is off (stunPort 0): UDP not measured'
  const hairpin = await hairpinFrom(udpSocket, relays, options)
  const { verdict, advice } = verdictOf(tcp, udp, gateway.protocols, components.portMappingMode)
  return { relays, tcp, udp, hairpin, gateway, verdict, advice, durationMs: Date.now() - started }
}

function withTimeout (ms: number, options: AbortOptions): AbortSignal {
  return AbortSignal.any([AbortSignal.timeout(ms), ...(options.signal != null ? [options.signal] : [])])
}

function oneLine (err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0] ?? String(err)
}

function formatAddress (ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** TCP (identify), RTT (ping) per relay, then UDP (STUN) from one socket to all of them. */
async function probeRelays (components: DoctorComponents, relayIds: string[], udpSocket: Socket, options: AbortOptions): Promise<RelayProbe[]> {
  const { libp2p, observed } = components
  const probes = await Promise.all(relayIds.map(async (id): Promise<RelayProbe> => {
    const probe: RelayProbe = { peerId: id, ip: null, rttMs: null, tcp: { observed: null, fromDialPort: false, error: null }, udp: { server: null, mapped: null, error: null } }
    let peer: PeerId
    try {
      peer = peerIdFromString(id)
    } catch {
      probe.tcp.error = 'not a PeerId'
      return probe
    }
    const direct = (): Connection | undefined => libp2p.getConnections(peer).find(c => c.status === 'open' && tcpEndpoint(c.remoteAddr) != null && c.direction === 'outbound') ??
      libp2p.getConnections(peer).find(c => c.status === 'open' && tcpEndpoint(c.remoteAddr) != null)
    let conn = direct()
    if (conn == null) {
      try {
        conn = await libp2p.dial(peer, { signal: withTimeout(RELAY_DIAL_TIMEOUT_MS, options) })
        if (tcpEndpoint(conn.remoteAddr) == null) conn = undefined
      } catch (err) {
        probe.tcp.error = `could not connect: ${oneLine(err)}`
        return probe
      }
    }
    if (conn == null) {
      probe.tcp.error = 'no direct TCP connection to it'
      return probe
    }
    probe.ip = tcpEndpoint(conn.remoteAddr)?.ip ?? null
    try {
      // identify again: the relay reports where this connection comes from now
      await libp2p.services.identify.identify(conn, { signal: withTimeout(RELAY_PROBE_TIMEOUT_MS, options) })
      const seen = observed.list().filter(o => o.observer === id && o.direction === 'outbound').sort((a, b) => b.at - a.at)
      const best = seen.find(o => o.fromDialPort) ?? seen[0]
      if (best != null) probe.tcp = { observed: formatAddress(best.ip, best.port), fromDialPort: best.fromDialPort, error: null }
      else probe.tcp.error = conn.direction === 'inbound' ? 'the relay dialled us: no outbound connection to compare' : 'the relay reported no observed address'
    } catch (err) {
      probe.tcp.error = `identify failed: ${oneLine(err)}`
    }
    try {
      probe.rttMs = await libp2p.services.ping.ping(conn.remoteAddr, { signal: withTimeout(RELAY_PROBE_TIMEOUT_MS, options) })
    } catch (err) {
      log('ping to relay %s failed - %e', id, err)
    }
    return probe
  }))
  if (components.stunPort > 0) {
    const targets = probes.filter(p => p.ip != null && !isIPv6(p.ip ?? ''))
    for (const p of targets) p.udp.server = formatAddress(p.ip ?? '', components.stunPort)
    const answers = await stunFromOneSocket(udpSocket, targets.map(p => ({ host: p.ip ?? '', port: components.stunPort })), options)
    targets.forEach((p, i) => {
      const a = answers[i]
      if (a?.mapped != null) p.udp.mapped = a.mapped
      else p.udp.error = a?.error ?? 'no answer'
    })
  }
  return probes
}

interface StunAnswer { mapped: string | null, error: string | null }

/** One UDP socket, one Binding request per server (retransmitted once): the mapped address each saw. */
async function stunFromOneSocket (socket: Socket, servers: Array<{ host: string, port: number }>, options: AbortOptions): Promise<StunAnswer[]> {
  if (servers.length === 0) return []
  const requests = servers.map(() => encodeBindingRequest(undefined, PADDED_REQUEST_BYTES))
  const answers: StunAnswer[] = servers.map(() => ({ mapped: null, error: null }))
  {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, () => { socket.off('error', reject); resolve() })
    })
    socket.on('error', err => { log('STUN socket error - %e', err) })
    await new Promise<void>((resolve) => {
      const signal = withTimeout(STUN_TIMEOUT_MS, options)
      const done = (): void => { clearTimeout(retransmit); socket.off('message', onMessage); signal.removeEventListener('abort', done); resolve() }
      const onMessage = (msg: Buffer, from: { address: string, port: number }): void => {
        const header = parseHeader(msg)
        if (header == null) return
        const i = requests.findIndex(r => r.subarray(8, 20).every((b, j) => b === header.transactionId[j]))
        const server = servers[i]
        const answer = answers[i]
        // only the server we asked may answer its transaction
        if (server == null || answer == null || from.address !== server.host || from.port !== server.port) return
        const mapped = mappedAddressOf(msg)
        if (mapped == null) answer.error = 'answer without a mapped address'
        else answer.mapped = formatAddress(mapped.address, mapped.port)
        if (answers.every(a => a.mapped != null || a.error != null)) done()
      }
      socket.on('message', onMessage)
      const sendAll = (): void => {
        servers.forEach((s, i) => {
          if (answers[i]?.mapped != null) return
          socket.send(requests[i] ?? new Uint8Array(), s.port, s.host, (err) => { if (err != null && answers[i] != null) answers[i].error = oneLine(err) })
        })
      }
      const retransmit = setTimeout(sendAll, STUN_RETRANSMIT_MS)
      signal.addEventListener('abort', done)
      sendAll()
    })
    for (const a of answers) if (a.mapped == null && (a.error == null || a.error === '')) a.error = `no STUN answer within ${STUN_TIMEOUT_MS} ms`
    return answers
  }
}

/**
 * Hairpinning (RFC 4787 §6, REQ-9): a second socket sends to the first socket's mapped
 * address; if the NAT loops it back, the first socket receives it.
 */
async function hairpinFrom (first: Socket, relays: RelayProbe[], options: AbortOptions): Promise<DoctorReport['hairpin']> {
  const mapped = relays.find(r => r.udp.mapped != null)?.udp.mapped
  if (mapped == null) return { udp: 'unknown', detail: 'no STUN answer: our public UDP address is unknown' }
  const ip = hostOf(mapped)
  const port = Number(mapped.slice(mapped.lastIndexOf(':') + 1))
  if (localIps().has(ip)) return { udp: 'unknown', detail: 'no NAT: nothing to hairpin' }
  const second = createSocket('udp4')
  const probe = encodeBindingRequest()
  const txid = probe.subarray(8, 20)
  try {
    const got = await new Promise<boolean>((resolve) => {
      const signal = withTimeout(HAIRPIN_TIMEOUT_MS, options)
      const onMessage = (msg: Buffer): void => {
        const h = parseHeader(msg)
        if (h != null && h.type === BINDING_REQUEST && h.transactionId.every((b, j) => b === txid[j])) { signal.removeEventListener('abort', onAbort); resolve(true) }
      }
      const onAbort = (): void => { resolve(false) }
      first.on('message', onMessage)
      signal.addEventListener('abort', onAbort)
      second.on('error', () => { resolve(false) })
      second.bind(0, () => { second.send(probe, port, ip) })
    })
    return got
      ? { udp: 'yes', detail: `a packet to our public address ${mapped} came back to us` }
      : { udp: 'no', detail: `a packet to our public address ${mapped} did not come back within ${HAIRPIN_TIMEOUT_MS} ms: peers on this LAN must use LAN addresses` }
  } finally {
    second.close()
  }
}

/** Asks the default gateway over PCP, NAT-PMP and UPnP; maps nothing. */
async function probeGateway (options: AbortOptions): Promise<DoctorReport['gateway']> {
  const gateway = await defaultGateway().catch(() => undefined)
  const protocols: MappingProtocolName[] = ['upnp', 'nat-pmp', 'pcp']
  if (gateway == null) {
    return { address: null, protocols: protocols.map(protocol => ({ protocol, answered: 'unknown', detail: 'no default gateway' })) }
  }
  const results = await Promise.all(protocols.map(async (protocol): Promise<ProtocolProbe> => {
    const signal = withTimeout(GATEWAY_PROBE_TIMEOUT_MS, options)
    try {
      if (protocol === 'upnp') {
        const client = await UpnpClient.discover({ signal, gateway, timeoutMs: 2_000 })
        const { externalIp } = await client.externalIp({ signal })
        return { protocol, answered: 'yes', externalIp, detail: client.gateway }
      }
      if (protocol === 'pcp') {
        const r = await new PcpClient(gateway).announce({ signal })
        return r.resultCode === 0 ? { protocol, answered: 'yes', detail: gateway } : { protocol, answered: 'refused', detail: `ANNOUNCE result ${r.resultCode}` }
      }
      const { externalIp } = await new NatPmpClient(gateway).externalAddress({ signal })
      return { protocol, answered: 'yes', externalIp, detail: gateway }
    } catch (err) {
      if (err instanceof MappingRefusedError) return { protocol, answered: 'refused', detail: err.message }
      const silent = err instanceof GatewayTimeoutError || signal.aborted || ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'].includes((err as NodeJS.ErrnoException).code ?? '')
      return { protocol, answered: silent ? 'no' : 'refused', detail: oneLine(err) }
    }
  }))
  return { address: gateway, protocols: results }
}
