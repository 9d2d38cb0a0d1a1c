import { isIPv4 } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { boolean, list, number, object, oneOf, preprocess, string } from './check.js'
import type { Infer } from './check.js'

/** Why a string is not a multiaddr, or undefined when it is one. */
function multiaddrProblem (s: string): string | undefined {
  try {
    multiaddr(s)
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** A multiaddr that ends in /p2p/PEERID with a valid PeerId. */
function isPeerMultiaddr (s: string): boolean {
  try {
    const id = multiaddr(s).getComponents().findLast(c => c.name === 'p2p')?.value
    if (id == null) return false
    peerIdFromString(id)
    return true
  } catch {
    return false
  }
}

const ma = string().problem(s => {
  const problem = multiaddrProblem(s)
  return problem == null ? undefined : `not a valid multiaddr (${problem}; example: /ip4/0.0.0.0/tcp/4001)`
})
const peerMa = string().refine(isPeerMultiaddr, 'not a multiaddr ending in /p2p/PEERID (example: /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo…)')
const seconds = number().int().positive()

export const configSchema = object({
  network: string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a network name is lower-case letters, digits and '-' (example: amino)"),
  listen: list(ma),
  announce: list(ma),
  bootstrap: list(peerMa).nullable(),
  relayServer: oneOf(['auto', 'on', 'off']),
  portMapping: oneOf(['auto', 'upnp', 'nat-pmp', 'pcp', 'off']),
  lanOnly: boolean(),
  portMappingLifetimeSeconds: seconds.min(30).max(86_400),
  portMappingCheckSeconds: seconds.max(3600),
  portMappingGateway: string().refine(s => isIPv4(s), 'the gateway is an IPv4 address (example: 192.168.1.1)').nullable(),
  // any HOST:PORT here; one off loopback also needs metricsPublic (checked in validateConfig)
  metrics: string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'metrics is HOST:PORT (example: 127.0.0.1:9464, [::1]:9464)')
    .refine(s => Number(/:(\d+)$/.exec(s)?.[1]) <= 65535, 'the port is 0-65535').nullable(),
  metricsPublic: boolean(),
  // the live view: any HOST:PORT; one off loopback also needs uiPublic (checked in validateConfig)
  ui: string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'ui is HOST:PORT (example: 127.0.0.1:8080, [::1]:8080)')
    .refine(s => Number(/:(\d+)$/.exec(s)?.[1]) <= 65535, 'the port is 0-65535').nullable(),
  uiPublic: boolean(),
  dhtMode: oneOf(['auto', 'client', 'server']),
  dialPrivateAddresses: oneOf(['auto', 'on', 'off']),
  keepaliveSeconds: seconds.max(3600),
  maxConnections: number().int().min(1).max(100_000),
  compactHeap: boolean(),
  tcpDialPort: number().int().min(0).max(65535),
  holePunch: boolean(),
  holePunchFastUpgrade: boolean(),
  udpPunch: boolean(),
  // one rule for flag, env and file: 'none' means no STUN server at all, HOST:PORT means stun:HOST:PORT
  stunServers: preprocess(
    (v) => !Array.isArray(v) ? v : v.includes('none') ? [] : v.map(x => typeof x === 'string' && !x.startsWith('stun:') ? `stun:${x}` : x),
    list(string().regex(/^stun:[^\s:/[\]]+(:\d{1,5})?$/, 'a STUN server is HOST:PORT or stun:HOST:PORT, IPv4 or a name (example: 203.0.113.7:3478), or none')).nullable()),
  stunPort: number().int().min(0).max(65535),
  udx: boolean(),
  udp: object({
    port: number().int().min(0).max(65535),
    // 'none' means no STUN server at all; stun:HOST:PORT is taken as HOST:PORT
    stunServers: preprocess(
      (v) => !Array.isArray(v) ? v : v.includes('none') ? [] : v.map(x => typeof x === 'string' ? x.replace(/^stun:/, '') : x),
      list(string().regex(/^[^\s:/[\]]+:\d{1,5}$/, 'a UDP STUN server is HOST:PORT, IPv4 or a name (example: 203.0.113.7:3478), or none')).nullable()),
    keepaliveSeconds: number().int().min(5).max(3600)
  }),
  // bounds of src/udx/birthday.ts (it refuses anything outside them with PROBE_CAPS)
  probing: object({
    perSecond: number().positive().max(100),
    maxProbes: number().int().min(1).max(64_512),
    sockets: number().int().min(1).max(1024),
    timeoutSeconds: seconds.max(60),
    nodePerSecond: number().positive().max(10_000),
    nodeSockets: number().int().min(0).max(65_536)
  }),
  relay: object({
    reservations: number().int().min(0).max(8),
    maxReservations: number().int().min(0).max(1_000_000),
    maxCircuits: number().int().min(0).max(1_000_000),
    maxPerIp: number().int().min(1).max(100_000),
    maxReservationsPerIp: number().int().min(1).max(100_000),
    reservationsPerIpPerHour: number().int().min(1).max(1_000_000),
    maxCircuitsPerPeer: number().int().min(1).max(1000),
    maxCircuitsPerIp: number().int().min(1).max(100_000),
    reservationTtlSeconds: seconds,
    circuitSeconds: seconds,
    circuitBytes: number().int().min(1024),
    maxHeapMb: number().int().refine(n => n === 0 || (n >= 64 && n <= 65_536), 'give 0 (V8\'s default) or 64 to 65536 MB')
  }),
  messages: object({
    maxBytes: number().int().min(1).max(64 * 1024 * 1024),
    outboxTtlSeconds: seconds,
    retryIntervalSeconds: seconds,
    maxInboundPerSecond: number().positive(),
    inboxMaxBytes: number().int().min(1),
    inboxMaxCount: number().int().min(1),
    inboxMaxBytesPerSender: number().int().min(1),
    inboxMaxCountPerSender: number().int().min(1),
    inFlightMaxBytes: number().int().min(1024)
  }),
  control: object({
    maxRequestBytes: number().int().min(64 * 1024).max(1024 * 1024 * 1024),
    maxConcurrentRequests: number().int().min(1).max(10_000)
  })
})

export type BurrowConfig = Infer<typeof configSchema>
