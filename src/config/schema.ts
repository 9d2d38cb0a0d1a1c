import { isIPv4 } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'

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

const ma = z.string().superRefine((s, ctx) => {
  const problem = multiaddrProblem(s)
  if (problem != null) ctx.addIssue({ code: 'custom', message: `not a valid multiaddr (${problem}; example: /ip4/0.0.0.0/tcp/4001)` })
})
const peerMa = z.string().refine(isPeerMultiaddr, { message: 'not a multiaddr ending in /p2p/PEERID (example: /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo…)' })
const seconds = z.number().int().positive()

export const configSchema = z.object({
  network: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { message: "a network name is lower-case letters, digits and '-' (example: amino)" }),
  listen: z.array(ma),
  announce: z.array(ma),
  bootstrap: z.array(peerMa).nullable(),
  relayServer: z.enum(['auto', 'on', 'off']),
  portMapping: z.enum(['auto', 'upnp', 'nat-pmp', 'pcp', 'off']),
  lanOnly: z.boolean(),
  portMappingLifetimeSeconds: seconds.min(30).max(86_400),
  portMappingCheckSeconds: seconds.max(3600),
  portMappingGateway: z.string().refine(s => isIPv4(s), { message: 'the gateway is an IPv4 address (example: 192.168.1.1)' }).nullable(),
  // any HOST:PORT here; one off loopback also needs metricsPublic (checked in validateConfig)
  metrics: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, { message: 'metrics is HOST:PORT (example: 127.0.0.1:9464, [::1]:9464)' })
    .refine(s => Number(/:(\d+)$/.exec(s)?.[1]) <= 65535, { message: 'the port is 0-65535' }).nullable(),
  metricsPublic: z.boolean(),
  // the live view: any HOST:PORT; one off loopback also needs uiPublic (checked in validateConfig)
  ui: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, { message: 'ui is HOST:PORT (example: 127.0.0.1:8080, [::1]:8080)' })
    .refine(s => Number(/:(\d+)$/.exec(s)?.[1]) <= 65535, { message: 'the port is 0-65535' }).nullable(),
  uiPublic: z.boolean(),
  dhtMode: z.enum(['auto', 'client', 'server']),
  dialPrivateAddresses: z.enum(['auto', 'on', 'off']),
  keepaliveSeconds: seconds.max(3600),
  maxConnections: z.number().int().min(1).max(100_000),
  compactHeap: z.boolean(),
  tcpDialPort: z.number().int().min(0).max(65535),
  holePunch: z.boolean(),
  holePunchFastUpgrade: z.boolean(),
  udpPunch: z.boolean(),
  // one rule for flag, env and file: 'none' means no STUN server at all, HOST:PORT means stun:HOST:PORT
  stunServers: z.preprocess(
    (v) => !Array.isArray(v) ? v : v.includes('none') ? [] : v.map(x => typeof x === 'string' && !x.startsWith('stun:') ? `stun:${x}` : x),
    z.array(z.string().regex(/^stun:[^\s:/[\]]+(:\d{1,5})?$/, { message: 'a STUN server is HOST:PORT or stun:HOST:PORT, IPv4 or a name (example: 203.0.113.7:3478), or none' })).nullable()),
  stunPort: z.number().int().min(0).max(65535),
  udx: z.boolean(),
  udp: z.object({
    port: z.number().int().min(0).max(65535),
    // 'none' means no STUN server at all; stun:HOST:PORT is taken as HOST:PORT
    stunServers: z.preprocess(
      (v) => !Array.isArray(v) ? v : v.includes('none') ? [] : v.map(x => typeof x === 'string' ? x.replace(/^stun:/, '') : x),
      z.array(z.string().regex(/^[^\s:/[\]]+:\d{1,5}$/, { message: 'a UDP STUN server is HOST:PORT, IPv4 or a name (example: 203.0.113.7:3478), or none' })).nullable()),
    keepaliveSeconds: z.number().int().min(5).max(3600)
  }).strict(),
  // bounds of src/udx/birthday.ts (it refuses anything outside them with PROBE_CAPS)
  probing: z.object({
    perSecond: z.number().positive().max(100),
    maxProbes: z.number().int().min(1).max(64_512),
    sockets: z.number().int().min(1).max(1024),
    timeoutSeconds: seconds.max(60),
    nodePerSecond: z.number().positive().max(10_000),
    nodeSockets: z.number().int().min(0).max(65_536)
  }).strict(),
  relay: z.object({
    reservations: z.number().int().min(0).max(8),
    maxReservations: z.number().int().min(0).max(1_000_000),
    maxCircuits: z.number().int().min(0).max(1_000_000),
    maxPerIp: z.number().int().min(1).max(100_000),
    maxReservationsPerIp: z.number().int().min(1).max(100_000),
    reservationsPerIpPerHour: z.number().int().min(1).max(1_000_000),
    maxCircuitsPerPeer: z.number().int().min(1).max(1000),
    maxCircuitsPerIp: z.number().int().min(1).max(100_000),
    reservationTtlSeconds: seconds,
    circuitSeconds: seconds,
    circuitBytes: z.number().int().min(1024),
    maxHeapMb: z.number().int().refine(n => n === 0 || (n >= 64 && n <= 65_536), { message: 'give 0 (V8\'s default) or 64 to 65536 MB' })
  }).strict(),
  messages: z.object({
    maxBytes: z.number().int().min(1).max(64 * 1024 * 1024),
    outboxTtlSeconds: seconds,
    retryIntervalSeconds: seconds,
    maxInboundPerSecond: z.number().positive(),
    inboxMaxBytes: z.number().int().min(1),
    inboxMaxCount: z.number().int().min(1),
    inboxMaxBytesPerSender: z.number().int().min(1),
    inboxMaxCountPerSender: z.number().int().min(1),
    inFlightMaxBytes: z.number().int().min(1024)
  }).strict(),
  control: z.object({
    maxRequestBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024),
    maxConcurrentRequests: z.number().int().min(1).max(10_000)
  }).strict()
}).strict()

export type BurrowConfig = z.infer<typeof configSchema>
