import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { bootstrap } from '@libp2p/bootstrap'
import { portMapper, lanDiscovery, lanAddressFilter } from '../portmap/index.js'
import type { PortMapper } from '../portmap/index.js'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dhtProtocolFor, dhtMode, knownPeers, rendezvous } from '../swarm/index.js'
import { messaging } from '../messaging/index.js'
import type { Messaging } from '../messaging/index.js'
import type { DhtModeService, KnownPeers, RendezvousService } from '../swarm/index.js'
import { denyDialUnlessNamed, isOwnListenAddress, privateDialPolicy, publicAddressFilter } from '../dial-policy/index.js'
import type { NamedAddresses } from '../dial-policy/index.js'
import { reachability, ObservedAddresses, autoNatV1Server, autoNatV2, autoNatDialBackService } from '../nat/index.js'
import type { AutoNatDialBackService, ReachabilityService } from '../nat/index.js'
import { holePunch, stablePortTcp, fromDialPort } from '../holepunch/index.js'
import { lazyNoiseCircuitTransport, pathUpgrade } from '../connections/index.js'
import type { PathUpgradeService } from '../connections/index.js'
import type { HolePunchService } from '../holepunch/index.js'
import { relayClient, relayGate, relayServer, PerIpLimit } from '../relay/index.js'
import type { RelayGateService } from '../relay/index.js'
import { udpPunch, UDP_AFTER_TCP_MS } from '../udppunch/index.js'
import type { UdpPunchService } from '../udppunch/index.js'
import { stunServersFor, stunService } from '../stun/index.js'
import type { StunService } from '../stun/index.js'
import { packageVersion } from '../package/index.js'
import { udxTransport, udxPunch, udxListenAddresses, udxStunSources, isUdxAddress, probeBudgetFromConfig, probeCapsFromConfig, stunAlternatePort } from '../udx/index.js'
import type { UdxPunchService } from '../udx/index.js'
import type { RelayClient } from '../relay/index.js'
import { nodeInternals } from './internals.js'
import type { NodeInternals } from './internals.js'
import type { BurrowConfig } from '../config/index.js'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { BurrowMetricsService } from '../metrics/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface BurrowServices {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  internals: NodeInternals
  dht: KadDHT
  portMapper: PortMapper
  reachability: ReachabilityService
  holePunch: HolePunchService
  relayClient: RelayClient
  udpPunch: UdpPunchService
  /** the per-peer upgrade state machine (src/connections): strategies register with it */
  pathUpgrade: PathUpgradeService
  knownPeers: KnownPeers
  /** the application message protocol (src/messaging) */
  messaging: Messaging
  dhtMode: DhtModeService
  rendezvous: RendezvousService
  /** the stock relay server, only on a node that may offer relay service (relayServer not 'off') */
  relay?: CircuitRelayService
  /** gates `relay`: offered only while allowed */
  relayGate?: RelayGateService
  /** only with relayGate and a stunPort */
  stun?: StunService
  /** the UDX path (src/udx): STUN on its socket, its punch (the path module\'s `udx` strategy) */
  udxPunch: UdxPunchService
  /** the stock AutoNAT v2 service; its client is reached through src/upstream (autonat-v2-dial-back) */
  autoNAT: unknown
  /** asks AutoNAT peers to dial a new port mapping's address back (src/nat) */
  autoNatDialBack: AutoNatDialBackService
  /** config `metrics`: burrow's series and the /metrics server (src/metrics) */
  burrowMetrics?: BurrowMetricsService
  [key: string]: unknown
}

export type BurrowLibp2p = Libp2p<BurrowServices>

export interface AssembleOptions {
  config: BurrowConfig
  privateKey: PrivateKey
  datastore: Datastore
  bootstrapList: string[]
  /** local port for every outgoing TCP connection (hole punching); 0: ephemeral ports */
  dialPort: number
  /** shared by the reachability and hole punching services */
  observed: ObservedAddresses
  /** whether this node may offer relay service */
  relayServer: boolean
  /** addresses the user named (`--bootstrap`, `burrow dial MULTIADDR`): dialled even when private */
  named: NamedAddresses
}

const withoutUdx = (addrs: Multiaddr[]): Multiaddr[] => addrs.filter(a => !isUdxAddress(a))

/** Whether private addresses can be dialled at all (own swarms and the lab). */
export function dialsPrivateAddresses (config: BurrowConfig): boolean {
  return privateDialPolicy(config) !== 'none'
}

/**
 * The STUN servers ICE uses: `stunServers`, or the bootstrap peers' hosts at `stunPort`
 * (never public STUN hosts). amino's own bootstrap list is kubo nodes, which serve no STUN:
 * none is taken from it (a node would otherwise list a bootstrap peer's IP as a STUN server
 * and send it binding requests); a list the user gave is taken to be burrow relays.
 */
export function stunServersOf (config: BurrowConfig, bootstrapList: string[]): string[] {
  if (config.stunServers != null) return config.stunServers
  if (config.stunPort <= 0 || (config.network === 'amino' && config.bootstrap == null)) return []
  return stunServersFor(bootstrapList, config.stunPort)
}

/**
 * The one place libp2p is assembled. Every module comes from the libp2p ecosystem;
 * burrow's own services are added around it by the node.
 */
export async function assembleLibp2p (options: AssembleOptions): Promise<BurrowLibp2p> {
  const { config, privateKey, datastore, bootstrapList, dialPort, observed } = options
  // the per-IP cap applies only while relay service is offered (the relay gate service decides)
  let relayActive = (): boolean => false
  const perIp = options.relayServer ? new PerIpLimit(config.relay.maxPerIp, () => relayActive()) : undefined
  const dialPrivate = dialsPrivateAddresses(config)
  const privatePolicy = privateDialPolicy(config)
  // the UDP punch path (src/udppunch): WebRTC over the relay's signalling, STUN from our own relays only
  const udp = config.udpPunch && !config.lanOnly
  const stunServers = udp ? stunServersOf(config, bootstrapList) : []
  // loaded only when used: the native WebRTC stack costs the CLI half a second at start
  const webRTC = udp ? (await import('@libp2p/webrtc')).webRTC : undefined
  // loaded only on a LAN-only node, the one that discovers peers by multicast DNS
  const mdns = config.lanOnly ? (await import('@libp2p/mdns')).mdns : undefined
  // loaded only when metrics are on (prom-client costs start time and memory); a registry
  // of this node's own, not prom-client's global one: libp2p's series and burrow's (src/metrics)
  const metricsRoom = config.metrics != null ? await import('../metrics/index.js') : undefined
  const metricsRegistry = metricsRoom?.createRegistry()
  const metrics = metricsRegistry != null ? (await import('@libp2p/prometheus-metrics')).prometheusMetrics({ registry: metricsRegistry }) : undefined

  // amino: a node serves the DHT only when it has a public address (kad-dht switches
  // by itself when clientMode is left undefined); own swarms serve by default.
  let clientMode: boolean | undefined
  if (config.dhtMode === 'client') clientMode = true
  else if (config.dhtMode === 'server') clientMode = false
  else clientMode = config.network === 'amino' ? undefined : false

  // our own listen addresses, known once the node exists: a peer's announced 127.0.0.1:4001
  // is our own listener when we listen on that port too, and dialling it reaches ourselves
  let ownListenAddrs = (): Multiaddr[] => []
  // the relays we hold reservations on, known once the node exists (STUN sources for the UDX socket)
  let reservedRelays = (): string[] => []
  const node = await createLibp2p<BurrowServices>({
    privateKey,
    datastore,
    start: false,
    ...(metrics != null ? { metrics } : {}),
    addresses: {
      // the UDX socket: the TCP listen host, at udp.port or the TCP port number (src/udx)
      listen: [...config.listen, ...(config.udx ? udxListenAddresses(config.listen, config.udp.port) : [])],
      announce: config.announce,
      // LAN-only: only LAN addresses; a public network (amino): only addresses others can use
      // never the UDX address: it is burrow's private-use multiaddr code, and a stock js-libp2p
      // peer cannot parse it (a reservation from a burrow relay announcing it made the peer
      // throw); burrow peers learn it in the UDX punch's CONNECT (src/udx)
      announceFilter: (addrs: Multiaddr[]) => withoutUdx(config.lanOnly ? lanAddressFilter(addrs) : config.network === 'amino' ? publicAddressFilter(addrs, config.announce) : addrs)
    },
    transports: [
      dialPort > 0 ? stablePortTcp({ dialPort }) : tcp(),
      // dialled relayed connections select /noise lazily: one round trip less before the punch (src/connections/lazy-relay.ts)
      lazyNoiseCircuitTransport(circuitRelayTransport()),
      ...(config.udx ? [udxTransport({ keepaliveMs: config.udp.keepaliveSeconds * 1000 })] : []),
      // no `/webrtc` listen address: it would announce …/p2p-circuit/webrtc addresses that
      // dialers try before the relay, putting ICE on every first dial (see src/udppunch)
      ...(webRTC != null ? [webRTC({ rtcConfiguration: () => ({ iceServers: stunServers.map(urls => ({ urls })) }) })] : [])
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [
      ...(bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 0 })] : []),
      ...(mdns != null ? [mdns()] : [])
    ],
    connectionManager: {
      maxConnections: config.maxConnections
    },
    connectionMonitor: {
      // pings every connection: keeps NAT mappings warm and measures the RTT
      pingInterval: config.keepaliveSeconds * 1000
    },
    connectionGater: {
      // a public DHT must not become a way into someone's LAN, and no address that names no
      // remote host (0.0.0.0, ::, ::ffff:127.0.0.1, multicast) is dialled (src/dial-policy)
      denyDialMultiaddr: (ma: Multiaddr) => isOwnListenAddress(ma, ownListenAddrs()) || denyDialUnlessNamed(ma, privatePolicy, options.named),
      // a relay caps connections per IP, so one host cannot take every slot
      denyInboundConnection: (maConn) => perIp?.deny(maConn) ?? false
    },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      // the connection monitor pings too: room for it next to `burrow ping` and the hole punch check
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 8 }),
      internals: nodeInternals(),
      // AutoNAT v2, refusing to dial back through relays (src/nat/autonat-v2.ts)
      autoNAT: autoNatV2(),
      // answers peers that speak only AutoNAT v1 (server half only; src/nat/autonat-v1.ts)
      autoNATv1: autoNatV1Server(),
      // a mapped address is announced only once a dial-back reaches it: ask the peers we already have
      autoNatDialBack: autoNatDialBackService(),
      reachability: reachability({ manual: config.announce.length > 0, observed, ...(dialPort > 0 ? { fromDialPort: (conn) => fromDialPort.has(conn) } : {}) }),
      holePunch: holePunch({ observed, mapping: () => observed.mapping(), privatePolicy, enabled: config.holePunch && !config.lanOnly, fastUpgrade: config.holePunchFastUpgrade }),
      pathUpgrade: pathUpgrade(),
      udpPunch: udpPunch({ enabled: udp, stunServers, delayMs: config.holePunch ? UDP_AFTER_TCP_MS : 0 }),
      udxPunch: udxPunch({
        enabled: config.udx && !config.lanOnly,
        stunServers: (): string[] => udxStunSources(config, bootstrapList, reservedRelays()),
        privatePolicy,
        keepaliveMs: config.udp.keepaliveSeconds * 1000,
        probeCaps: probeCapsFromConfig(config.probing),
        probeBudget: probeBudgetFromConfig(config.probing),
        autoAttempt: true
      }),
      relayClient: relayClient({ reservations: config.lanOnly ? 0 : config.relay.reservations, candidates: bootstrapList }),
      ...(options.relayServer
        ? {
            relay: relayServer(config),
            relayGate: relayGate({ mode: config.relayServer === 'on' ? 'on' : 'auto', limits: config.relay, perIpRefused: () => perIp?.refused ?? 0 }),
            ...(config.stunPort > 0 ? { stun: stunService({ port: config.stunPort, alternatePort: stunAlternatePort(config.stunPort), software: `burrow ${packageVersion()}` }) } : {})
          }
        : {}),
      portMapper: portMapper({
        mode: config.portMapping,
        lanOnly: config.lanOnly,
        announce: config.announce,
        lifetimeSeconds: config.portMappingLifetimeSeconds,
        checkIntervalMs: config.portMappingCheckSeconds * 1000,
        ...(config.portMappingGateway != null ? { gateway: config.portMappingGateway } : {})
      }),
      ...(config.lanOnly ? { lanDiscovery: lanDiscovery() } : {}),
      dht: kadDHT({
        protocol: dhtProtocolFor(config.network),
        clientMode,
        peerInfoMapper: dialPrivate ? passthroughMapper : removePrivateAddressesMapper
      }),
      dhtMode: dhtMode({ protocol: dhtProtocolFor(config.network), auto: config.dhtMode === 'auto' && config.network !== 'amino' }),
      rendezvous: rendezvous(),
      knownPeers: knownPeers({ bootstrap: bootstrapList }),
      messaging: messaging({
        maxMessageBytes: config.messages.maxBytes,
        outboxTtlMs: config.messages.outboxTtlSeconds * 1000,
        retryIntervalMs: config.messages.retryIntervalSeconds * 1000,
        maxInboundPerSecond: config.messages.maxInboundPerSecond,
        inboxMaxBytes: config.messages.inboxMaxBytes,
        inboxMaxCount: config.messages.inboxMaxCount,
        inboxMaxBytesPerSender: config.messages.inboxMaxBytesPerSender,
        inboxMaxCountPerSender: config.messages.inboxMaxCountPerSender,
        inFlightMaxBytes: config.messages.inFlightMaxBytes
      }),
      ...(metricsRoom != null && metricsRegistry != null && config.metrics != null
        ? { burrowMetrics: metricsRoom.burrowMetrics({ registry: metricsRegistry, address: config.metrics }) }
        : {})
    }
  })
  ownListenAddrs = () => node.services.internals.transportManager.getAddrs()
  reservedRelays = () => node.services.relayClient.reservations().flatMap(r => r.addresses)
  perIp?.attach(node)
  relayActive = () => node.services.relayGate?.offering === true
  return node
}
