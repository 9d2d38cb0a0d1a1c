/**
 * The UDX transport: libp2p connections over UDX streams (reliable, congestion-controlled
 * streams on UDP, npm `udx-native`), upgraded by the libp2p upgrader with the same Noise and
 * yamux as TCP. One UDP socket per node carries listening and dialling, so an
 * endpoint-independent NAT shows every peer the same public port; STUN, punch probes and the
 * stream handshake share it (src/udx/demux.ts). burrow-to-burrow only.
 *
 * Multiaddr: `/ip4/A/udp/P/x-burrow-udx` (src/udx/multiaddr.ts). IPv4 only for now.
 * @see docs/DESIGN.md, UDX path
 */
import { networkInterfaces } from 'node:os'
import UDX from 'udx-native'
import { serviceCapabilities, transportSymbol, TypedEventEmitter } from '@libp2p/interface'
import type {
  ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, ListenerEvents,
  Logger, PeerId, StreamMuxerFactory, Transport, Upgrader
} from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { UDXSocket } from 'udx-native'
import { UdxMultiaddrConnection } from './connection.js'
import { DatagramDemux } from './demux.js'
import { UdxHandshakeError, UdxSocketError } from './errors.js'
import { encodeHandshake, PUNCH, UdxEndpoint } from './handshake.js'
import type { InboundStream } from './handshake.js'
import { udxHostPort, udxMultiaddr } from './multiaddr.js'
import { DEFAULT_UDX_KEEPALIVE_MS } from './constants.js'
import { multistreamProposal, YAMUX_PROTOCOL } from '../connections/index.js'

export interface UdxTransportInit {
  /** UDP port to bind when a listen address says port 0 is not wanted; the listen address's port otherwise */
  port?: number
  /** keepalive datagrams on each connection, in ms (0: none) */
  keepaliveMs?: number
}

export interface UdxTransportComponents {
  logger: ComponentLogger
  upgrader: Upgrader
}

export interface ConnectOverOptions {
  /** true: we send HELLO and are Noise's initiator; false: we wait for the peer's HELLO */
  initiator: boolean
  remotePeer: PeerId
  signal: AbortSignal
  /** keepalive for this connection (the punch's negotiated value); the transport's default otherwise */
  keepaliveMs?: number
  /** filled in when given: ms of the HELLO/ACK stream handshake and of the libp2p upgrade */
  phases?: { handshakeMs: number | null, upgradeMs: number | null }
}

/** The node's one UDP socket, bound once, shared by the listener, dials, STUN and punches. */
export interface MainSocket {
  socket: UDXSocket
  demux: DatagramDemux
  endpoint: UdxEndpoint
  host: string
  port: number
}

const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)

export class UdxTransport implements Transport {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@burrow/udx'
  readonly [serviceCapabilities] = ['@libp2p/transport', '@burrow/udx']

  readonly udx = new UDX()
  private readonly components: UdxTransportComponents
  private readonly init: UdxTransportInit
  private readonly log: Logger
  private main?: MainSocket
  private binding?: Promise<MainSocket>
  private inboundHandler?: (inbound: InboundStream) => void
  private readonly onMainSocket = new Set<(main: MainSocket) => void>()

  constructor (components: UdxTransportComponents, init: UdxTransportInit = {}) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('burrow:udx')
  }

  /** The node's socket, once bound (listen, or the first dial). */
  get mainSocket (): MainSocket | undefined {
    return this.main
  }

  /** Calls `fn` with the main socket when it is bound (now, if it is); returns the unsubscribe. */
  whenBound (fn: (main: MainSocket) => void): () => void {
    if (this.main != null) fn(this.main)
    this.onMainSocket.add(fn)
    return () => { this.onMainSocket.delete(fn) }
  }

  /**
   * Binds the node's socket at host:port; when that port is taken, on a free one (said in the log).
   * A second call returns the socket of the first.
   */
  async bind (host = '0.0.0.0', port = this.init.port ?? 0): Promise<MainSocket> {
    if (this.binding != null) return await this.binding
    this.binding = (async () => {
      let socket = this.udx.createSocket()
      try {
        socket.bind(port, host)
      } catch (err: unknown) {
        if (port === 0) throw new UdxSocketError(`cannot bind a UDP socket on ${host}: ${messageOf(err)}`)
        this.log('UDP port %d on %s is taken (%s): binding a free one; a port forward for %d will not cover UDX', port, host, messageOf(err), port)
        await socket.close().catch(() => {})
        socket = this.udx.createSocket()
        try {
          socket.bind(0, host)
        } catch (err2: unknown) {
          throw new UdxSocketError(`cannot bind a UDP socket on ${host}: ${messageOf(err2)}`)
        }
      }
      const demux = new DatagramDemux(socket)
      const endpoint = new UdxEndpoint({ udx: this.udx, socket, demux, onInbound: inbound => { this.inboundHandler?.(inbound) } })
      const main: MainSocket = { socket, demux, endpoint, host, port: socket.address().port }
      this.main = main
      this.log('UDX socket on %s:%d', host, main.port)
      for (const fn of this.onMainSocket) fn(main)
      return main
    })()
    try {
      return await this.binding
    } catch (err) {
      this.binding = undefined
      throw err
    }
  }

  /** Nothing to do: the socket is bound by the first listen or dial. */
  async start (): Promise<void> {}

  /** libp2p stops its components: a socket bound by a dial alone (no UDX listen address) is closed too. */
  async stop (): Promise<void> {
    await this.closeSocket()
  }

  /** Closes the node's socket (the listener's close calls it). */
  async closeSocket (): Promise<void> {
    const main = this.main
    this.main = undefined
    this.binding = undefined
    if (main == null) return
    main.endpoint.close()
    main.demux.close()
    for (const s of [...main.socket.streams]) s.destroy()
    await main.socket.close().catch(() => {})
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    const target = udxHostPort(ma.decapsulateCode(0x01a5))
    if (target == null) throw new UdxHandshakeError(`not a UDX address: ${ma.toString()}`)
    const main = await this.bind()
    const stream = await main.endpoint.dial(target.host, target.port, { signal: options.signal })
    const maConn = this.wrap(stream, 'outbound', ma, main.socket, target.host, target.port)
    try {
      return await options.upgrader.upgradeOutbound(maConn, { ...options, muxerFactory: this.muxerFactory() })
    } catch (err: unknown) {
      maConn.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /**
   * A libp2p connection over any UDX socket (the node's, or the winning socket of a birthday
   * attempt) to remoteHost:remotePort. A socket other than the node's is kept for the
   * connection's lifetime and closed with it.
   */
  async connectOver (socket: UDXSocket, remoteHost: string, remotePort: number, options: ConnectOverOptions): Promise<Connection> {
    const main = this.main
    const own = main?.socket === socket
    const endpoint = own && main != null ? main.endpoint : new UdxEndpoint({ udx: this.udx, socket })
    const release = async (): Promise<void> => {
      if (own) return
      endpoint.close()
      await socket.close().catch(() => {})
    }
    let stream
    const handshakeAt = Date.now()
    try {
      stream = options.initiator
        ? await endpoint.dial(remoteHost, remotePort, { signal: options.signal })
        : await endpoint.expect(remoteHost, remotePort, { signal: options.signal })
    } catch (err) {
      await release()
      throw err
    }
    const upgradeAt = Date.now()
    if (options.phases != null) options.phases.handshakeMs = upgradeAt - handshakeAt
    const ma = udxMultiaddr(remoteHost, remotePort).encapsulate(`/p2p/${options.remotePeer.toString()}`)
    const maConn = this.wrap(stream, options.initiator ? 'outbound' : 'inbound', ma, socket, remoteHost, remotePort, options.keepaliveMs, release, options.initiator ? this.lazyAnswer() : undefined)
    try {
      const connection = await this.components.upgrader.upgradeOutbound(maConn, { signal: options.signal, initiator: options.initiator, muxerFactory: this.muxerFactory() })
      if (options.phases != null) options.phases.upgradeMs = Date.now() - upgradeAt
      return connection
    } catch (err: unknown) {
      maConn.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /**
   * yamux for every UDX connection, passed to the upgrader on both ends: no muxer negotiation
   * (both ends are burrow). Noise's early muxer negotiation (its handshake's extensions) would
   * pick yamux anyway without a round trip; this makes it independent of that. Undefined (the
   * upgrader negotiates) when the node has no yamux.
   */
  private muxerFactory (): StreamMuxerFactory | undefined {
    return this.components.upgrader.getStreamMuxers().get(YAMUX_PROTOCOL)
  }

  /**
   * The multistream-select answer a burrow peer gives to our encryption proposal (its header,
   * then our first encrypter's protocol, each length-prefixed), for a lazy select on a punched
   * connection (the peer is burrow, it told us so over the relayed connection): the upgrader's
   * select then costs no round trip and Noise's first message goes out with the proposal. The
   * real answer is checked byte for byte when it comes (src/udx/connection.ts). Noise still
   * authenticates the peer; its first message carries only an ephemeral key.
   */
  private lazyAnswer (): Uint8Array | undefined {
    const first = [...this.components.upgrader.getConnectionEncrypters().keys()][0]
    if (first == null) return undefined
    return multistreamProposal(first)
  }

  private wrap (stream: import('udx-native').UDXStream, direction: 'inbound' | 'outbound', remoteAddr: Multiaddr, socket: UDXSocket, host: string, port: number, keepaliveMs?: number, onClosed?: () => Promise<void>, lazyAnswer?: Uint8Array): UdxMultiaddrConnection {
    const every = keepaliveMs ?? this.init.keepaliveMs ?? DEFAULT_UDX_KEEPALIVE_MS
    let timer: NodeJS.Timeout | undefined
    if (every > 0) {
      // a datagram each way keeps both NATs' mappings (30 s on common routers) open while the connection is idle
      const punch = encodeHandshake({ kind: PUNCH })
      timer = setInterval(() => { try { socket.trySend(punch, port, host) } catch {} }, every)
      timer.unref()
    }
    return new UdxMultiaddrConnection({
      stream,
      direction,
      remoteAddr,
      log: this.components.logger.forComponent(`burrow:udx:connection:${direction}`),
      ...(lazyAnswer != null ? { lazyAnswer } : {}),
      onClosed: () => {
        clearInterval(timer)
        void onClosed?.()
      }
    })
  }

  createListener (options: CreateListenerOptions): Listener {
    return new UdxListener(this, options.upgrader, this.log, inbound => this.wrap(inbound.stream, 'inbound', udxMultiaddr(inbound.host, inbound.port), this.main!.socket, inbound.host, inbound.port), h => { this.inboundHandler = h })
  }

  /** Only IPv4 UDX addresses: `/ip4/A/udp/P/x-burrow-udx`. */
  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => udxHostPort(ma, { anyPort: true })?.family === 4)
  }

  /** Only our own multiaddr (with or without `/p2p/…`), IPv4. */
  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => udxHostPort(ma.decapsulateCode(0x01a5))?.family === 4)
  }
}

class UdxListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly transport: UdxTransport
  private readonly upgrader: Upgrader
  private readonly log: Logger
  private readonly toConn: (inbound: InboundStream) => UdxMultiaddrConnection
  private readonly setHandler: (h: ((inbound: InboundStream) => void) | undefined) => void
  private readonly shutdown = new AbortController()
  private host?: string
  private listening = false

  constructor (transport: UdxTransport, upgrader: Upgrader, log: Logger, toConn: (inbound: InboundStream) => UdxMultiaddrConnection, setHandler: (h: ((inbound: InboundStream) => void) | undefined) => void) {
    super()
    this.transport = transport
    this.upgrader = upgrader
    this.log = log
    this.toConn = toConn
    this.setHandler = setHandler
  }

  async listen (ma: Multiaddr): Promise<void> {
    const at = udxHostPort(ma, { anyPort: true })
    if (at == null) throw new UdxSocketError(`not a UDX listen address: ${ma.toString()}`)
    const main = await this.transport.bind(at.host, at.port)
    this.host = at.host
    this.listening = true
    this.setHandler(inbound => {
      const maConn = this.toConn(inbound)
      this.upgrader.upgradeInbound(maConn, { signal: this.shutdown.signal, muxerFactory: this.upgrader.getStreamMuxers().get(YAMUX_PROTOCOL) }).catch((err: Error) => {
        this.log('inbound UDX upgrade from %s:%d failed: %s', inbound.host, inbound.port, err.message)
        maConn.abort(err)
      })
    })
    this.log('listening on %s:%d', at.host, main.port)
    this.safeDispatchEvent('listening')
  }

  getAddrs (): Multiaddr[] {
    const main = this.transport.mainSocket
    if (!this.listening || main == null || this.host == null) return []
    if (this.host !== '0.0.0.0') return [udxMultiaddr(this.host, main.port)]
    const out: Multiaddr[] = []
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.family === 'IPv4') out.push(udxMultiaddr(a.address, main.port))
      }
    }
    return out
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    if (!this.listening) return
    this.listening = false
    this.setHandler(undefined)
    this.shutdown.abort()
    await this.transport.closeSocket()
    this.safeDispatchEvent('close')
  }
}

/** The transport factory for `createLibp2p({ transports: [udxTransport()] })`. */
export function udxTransport (init: UdxTransportInit = {}): (components: UdxTransportComponents) => UdxTransport {
  return (components) => new UdxTransport(components, init)
}

