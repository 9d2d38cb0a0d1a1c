/**
 * A DCUtR peer written from libp2p/specs relay/DCUtR.md and what go-libp2p and
 * rust-libp2p do today, for interop tests (no go or rust peer can run here):
 * bare js-libp2p (TCP from one fixed dial port, Noise, yamux, identify, ping, the circuit
 * relay transport), with the DCUtR frames written here by hand — its own protobuf and
 * varint framing, not burrow's codec.
 *
 * - As B (the inbound side of a relayed connection) it opens a NEW stream per attempt,
 *   sends CONNECT, reads CONNECT, sends SYNC, closes the stream, waits RTT/2 and dials.
 * - As A (it dialled the relayed connection) it answers one exchange per stream and dials
 *   at once on SYNC.
 * - Roles on the simultaneous open: `spec` (go ≥ 0.41, rust): A client, B server;
 *   `legacy` (go ≤ 0.40, burrow 0.1): B client, A server; `go48`: spec, but B is the
 *   client on its last attempt.
 * - `--serve-relay`: a stock circuit relay v2 server that grants unlimited circuits
 *   (applyDefaultLimit: false), which the spec allows.
 *
 * Run as a program (`node spec-peer.ts --dial-port P --relay MA …`) it prints one JSON
 * event per line on stdout; imported, `startSpecPeer()` gives the same events.
 */
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { stablePortTcp } from '../../dist/holepunch/index.js'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export const DCUTR = '/libp2p/dcutr'
const CONNECT = 100
const SYNC = 300

export type Roles = 'spec' | 'legacy' | 'go48'

export interface SpecPeerOptions {
  roles?: Roles
  /** local port of every outgoing TCP connection (0: ephemeral) */
  dialPort?: number
  /** listen addresses (default none; `--serve-relay` default /ip4/0.0.0.0/tcp/4001) */
  listen?: string[]
  /** a relay to dial first (identify there tells our observed address) and reserve a slot on */
  relay?: string
  /** reserve a slot on `relay` (to be dialled through it, as B) */
  reserve?: boolean
  /** serve as an unlimited circuit relay */
  serveRelay?: boolean
  /** do the exchanges but never dial (to count answered attempts) */
  noDial?: boolean
  /** put this many non-TCP addresses (QUIC, WebTransport, WebRTC) before ours in CONNECT */
  padAddresses?: number
  /** send exactly these addresses in CONNECT (hostile tests) */
  addresses?: string[]
  /** as A, wait this long before answering the first CONNECT */
  answerDelayMs?: number
  /** attempts as B (default 3) */
  attempts?: number
  /**
   * put burrow's fast-upgrade field (1024 = 1) in our CONNECT, as a burrow peer would, while
   * upgrading the punched connection the standard way (tests of burrow's lazy /noise select)
   */
  claimFast?: boolean
  /**
   * on a punch dial where we are the server of the upgrade, hold the upgrade this long after
   * the TCP connection is up and report how many bytes the peer sent meanwhile
   * (`early-bytes`): the peer's first flight, before any answer of ours
   */
  holdUpgradeMs?: number
  emit?: (event: Record<string, unknown>) => void
}

export interface SpecPeer {
  node: Libp2p
  peerId: string
  /** as A: dial a circuit address (a relayed connection we dialled) */
  dial: (addr: string) => Promise<Connection>
  /** as B, by hand: run the attempts over a relayed connection now */
  runAsB: (conn: Connection) => Promise<void>
  /** one raw exchange as B on a given connection (any connection): CONNECT → their CONNECT → SYNC */
  exchange: (conn: Connection, addrs: Uint8Array[]) => Promise<{ answered: boolean, theirs: string[], error?: string }>
  stop: () => Promise<void>
}

// ---- the frames, by hand (HolePunch { required Type type = 1; repeated bytes ObsAddrs = 2; })

function varint (n: number): number[] {
  const out: number[] = []
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

export function encodeHolePunch (type: number, addrs: Uint8Array[], burrowUpgrade?: number): Uint8Array {
  const bytes: number[] = [0x08, ...varint(type)]
  for (const a of addrs) bytes.push(0x12, ...varint(a.length), ...a)
  // field 1024, varint: burrow's fast-upgrade version
  if (burrowUpgrade != null) bytes.push(...varint(1024 << 3), ...varint(burrowUpgrade))
  return Uint8Array.from(bytes)
}

export function decodeHolePunch (buf: Uint8Array): { type: number, addrs: Uint8Array[] } {
  let i = 0
  const readVarint = (): number => {
    let n = 0
    let mul = 1
    for (;;) {
      const b = buf[i++]
      if (b === undefined) throw new Error('truncated varint')
      n += (b & 0x7f) * mul
      if ((b & 0x80) === 0) return n
      mul *= 128
    }
  }
  let type = 0
  const addrs: Uint8Array[] = []
  while (i < buf.length) {
    const tag = readVarint()
    if (tag === 0x08) type = readVarint()
    else if (tag === 0x12) { const len = readVarint(); addrs.push(buf.slice(i, i + len)); i += len }
    // any other field is skipped by its wire type, as protobuf parsers do (go's, rust's
    // quick-protobuf, js protons): burrow's CONNECT carries its fast-upgrade field 1024
    else if ((tag & 7) === 0) readVarint()
    else if ((tag & 7) === 2) i += readVarint()
    else if ((tag & 7) === 1) i += 8
    else if ((tag & 7) === 5) i += 4
    else throw new Error(`unexpected tag ${tag}`)
  }
  return { type, addrs }
}

function isRelayedConn (conn: Connection): boolean {
  return conn.remoteAddr.toString().includes('/p2p-circuit')
}

const PADDING = [
  '/ip4/21.0.0.9/udp/4001/quic-v1',
  '/ip4/21.0.0.9/udp/4001/quic-v1/webtransport',
  '/ip4/21.0.0.9/udp/4002/webrtc-direct',
  '/ip6/2001:db8::9/udp/4001/quic-v1',
  '/dns4/example.invalid/tcp/443/wss'
]

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

type TransportFactory = ReturnType<typeof tcp>

/**
 * The TCP transport, with server-role punch dials (`initiator: false`) holding their upgrade
 * `holdMs` once the socket is up: whatever the peer sends before hearing from us arrives
 * meanwhile, and its size is reported (`early-bytes`).
 */
function holdingUpgrade (factory: TransportFactory, holdMs: number, emit: (e: Record<string, unknown>) => void): TransportFactory {
  if (holdMs <= 0) return factory
  return (components) => {
    const inner = factory(components)
    const dial: typeof inner.dial = async (ma, options) => {
      if ((options as { initiator?: boolean }).initiator !== false) return inner.dial(ma, options)
      const upgrader = Object.create(options.upgrader) as typeof options.upgrader
      upgrader.upgradeOutbound = async (maConn, opts) => {
        const conn = maConn as typeof maConn & { onData: (d: Uint8Array) => void }
        const onData = conn.onData
        let early = 0
        let holding = true
        conn.onData = (d) => { if (holding) early += d.byteLength; onData.call(conn, d) }
        await sleep(holdMs)
        holding = false
        emit({ event: 'early-bytes', bytes: early, remoteAddr: maConn.remoteAddr.toString() })
        return options.upgrader.upgradeOutbound(maConn, opts)
      }
      return inner.dial(ma, { ...options, upgrader })
    }
    return new Proxy(inner, {
      get (target, prop, receiver) {
        if (prop === 'dial') return dial
        const v = Reflect.get(target, prop, receiver) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
    })
  }
}

export async function startSpecPeer (opts: SpecPeerOptions): Promise<SpecPeer> {
  const roles = opts.roles ?? 'spec'
  const emit = opts.emit ?? (() => {})
  const grab: { components?: { transportManager: TransportManager } } = {}
  const listen = opts.listen ?? (opts.serveRelay === true ? ['/ip4/0.0.0.0/tcp/4001'] : [])
  const node = await createLibp2p({
    addresses: { listen },
    transports: [
      holdingUpgrade((opts.dialPort ?? 0) > 0 ? stablePortTcp({ dialPort: opts.dialPort ?? 0 }) : tcp(), opts.holdUpgradeMs ?? 0, emit),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      ping: ping(),
      grab: (components: { transportManager: TransportManager }) => { grab.components = components; return {} },
      // a stock relay keeps a reservation until it expires (2 h), not until its peer leaves: a
      // 20-trial lab run (two fresh reserving peers per trial, 2 cells) needs more than 64 slots
      ...(opts.serveRelay === true ? { relay: circuitRelayServer({ reservations: { applyDefaultLimit: false, maxReservations: 512 } }) } : {})
    }
  })
  const peerId = node.peerId.toString()
  let observed: Multiaddr | undefined
  node.addEventListener('peer:identify', (evt) => {
    const r = evt.detail
    if (r.observedAddr != null && !isRelayedConn(r.connection)) {
      observed = r.observedAddr
      emit({ event: 'observed', addr: observed.toString() })
    }
  })

  const ourAddrs = (): Uint8Array[] => {
    if (opts.addresses != null) return opts.addresses.map(a => multiaddr(a).bytes)
    const pad = Array.from({ length: opts.padAddresses ?? 0 }, (_, k) => PADDING[k % PADDING.length] as string)
    return [...pad.map(a => multiaddr(a).bytes), ...(observed != null ? [observed.bytes] : [])]
  }

  const theirAddrs = (raw: Uint8Array[]): Multiaddr[] => {
    const out: Multiaddr[] = []
    for (const b of raw) {
      try {
        const ma = multiaddr(b)
        const s = ma.toString()
        if (!s.includes('/p2p-circuit') && /^\/ip[46]\/[^/]+\/tcp\/\d+$/.test(s)) out.push(ma)
      } catch {}
    }
    return out
  }

  const punch = async (peer: string, addrs: Multiaddr[], isClient: boolean, attempt: number, role: 'A' | 'B'): Promise<boolean> => {
    if (opts.noDial === true) return false
    const tm = grab.components?.transportManager
    if (tm == null) return false
    const tries = addrs.map(async (a) => {
      const conn: Connection = await tm.dial(a.encapsulate(`/p2p/${peer}`), { signal: AbortSignal.timeout(5_000), initiator: isClient ? undefined : false, punch: true } as Parameters<TransportManager['dial']>[1])
      return conn
    })
    try {
      const conn = await Promise.any(tries)
      emit({ event: 'direct', role, attempt, isClient, remoteAddr: conn.remoteAddr.toString(), handshake: conn.direction === 'outbound' ? 'initiator' : 'responder' })
      return true
    } catch (err) {
      const existing = node.getConnections().find(c => c.remotePeer.toString() === peer && !isRelayedConn(c))
      if (existing != null) {
        emit({ event: 'direct', role, attempt, isClient, remoteAddr: existing.remoteAddr.toString(), handshake: existing.direction === 'outbound' ? 'initiator' : 'responder' })
        return true
      }
      emit({ event: 'punch-failed', role, attempt, isClient, error: String((err as AggregateError).errors?.map((e: Error) => e.message).join('; ') ?? err) })
      return false
    }
  }

  const exchange = async (conn: Connection, addrs: Uint8Array[]): Promise<{ answered: boolean, theirs: string[], error?: string, rttMs?: number, raw?: Uint8Array[] }> => {
    let stream: Stream
    try {
      stream = await conn.newStream(DCUTR, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      return { answered: false, theirs: [], error: `stream: ${(err as Error).message}` }
    }
    const lp = lpStream(stream, { maxDataLength: 4096 })
    try {
      const start = Date.now()
      await lp.write(encodeHolePunch(CONNECT, addrs, opts.claimFast === true ? 1 : undefined), { signal: AbortSignal.timeout(10_000) })
      const reply = decodeHolePunch((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
      const rttMs = Date.now() - start
      if (reply.type !== CONNECT) throw new Error(`expected CONNECT, got ${reply.type}`)
      await lp.write(encodeHolePunch(SYNC, []), { signal: AbortSignal.timeout(10_000) })
      await stream.close().catch(() => {})
      return { answered: true, theirs: reply.addrs.map(a => { try { return multiaddr(a).toString() } catch { return '?' } }), rttMs, raw: reply.addrs }
    } catch (err) {
      stream.abort(err as Error)
      return { answered: false, theirs: [], error: (err as Error).message }
    }
  }

  const runAsB = async (conn: Connection): Promise<void> => {
    const peer = conn.remotePeer.toString()
    const attempts = opts.attempts ?? 3
    for (let i = 0; i < 50 && observed == null && opts.addresses == null; i++) await sleep(100)
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const r = await exchange(conn, ourAddrs())
      emit({ event: 'exchange', role: 'B', attempt, answered: r.answered, theirs: r.theirs, error: r.error })
      if (!r.answered) return // go and rust end the upgrade when the exchange itself fails
      await sleep((r.rttMs ?? 0) / 2)
      const isClient = roles === 'legacy' || (roles === 'go48' && attempt === attempts)
      if (await punch(peer, theirAddrs(r.raw ?? []), isClient, attempt, 'B')) return
    }
    emit({ event: 'gave-up', role: 'B' })
  }

  // A: one exchange per stream, only over a relayed connection we dialled
  let answeredFirst = false
  await node.handle(DCUTR, async (stream: Stream, conn: Connection) => {
    if (!isRelayedConn(conn) || conn.direction !== 'outbound') { stream.abort(new Error('not a relayed connection we dialled')); return }
    const lp = lpStream(stream, { maxDataLength: 4096 })
    try {
      const connect = decodeHolePunch((await lp.read({ signal: AbortSignal.timeout(15_000) })).subarray())
      if (connect.type !== CONNECT) throw new Error('expected CONNECT')
      emit({ event: 'connect-received', role: 'A', theirs: connect.addrs.length })
      if (!answeredFirst && (opts.answerDelayMs ?? 0) > 0) { answeredFirst = true; await sleep(opts.answerDelayMs ?? 0) }
      await lp.write(encodeHolePunch(CONNECT, ourAddrs(), opts.claimFast === true ? 1 : undefined), { signal: AbortSignal.timeout(10_000) })
      const sync = decodeHolePunch((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
      if (sync.type !== SYNC) throw new Error('expected SYNC')
      await stream.close().catch(() => {})
      emit({ event: 'exchange', role: 'A', answered: true })
      const isClient = roles !== 'legacy'
      await punch(conn.remotePeer.toString(), theirAddrs(connect.addrs), isClient, 0, 'A')
    } catch (err) {
      emit({ event: 'exchange', role: 'A', answered: false, error: (err as Error).message })
      stream.abort(err as Error)
    }
  }, { runOnLimitedConnection: true, maxInboundStreams: 8 })

  node.addEventListener('connection:open', (evt) => {
    const conn = evt.detail
    emit({ event: 'connection', direction: conn.direction, remoteAddr: conn.remoteAddr.toString(), relayed: isRelayedConn(conn) })
    if (conn.direction === 'inbound' && isRelayedConn(conn) && opts.serveRelay !== true) {
      void runAsB(conn).catch(err => { emit({ event: 'error', error: String(err) }) })
    }
  })

  await node.start()
  if (opts.relay != null) {
    await node.dial(multiaddr(opts.relay), { signal: AbortSignal.timeout(15_000) })
    for (let i = 0; i < 50 && observed == null; i++) await sleep(100)
    if (opts.reserve === true) {
      await grab.components?.transportManager.listen([multiaddr(`${opts.relay}/p2p-circuit`)])
      emit({ event: 'reserved', addrs: node.getMultiaddrs().map(String) })
    }
  }
  emit({ event: 'ready', peerId, addrs: node.getMultiaddrs().map(String), observed: observed?.toString() ?? null })

  return {
    node,
    peerId,
    dial: async (addr) => node.dial(multiaddr(addr), { signal: AbortSignal.timeout(15_000) }),
    runAsB,
    exchange: async (conn, addrs) => {
      const r = await exchange(conn, addrs)
      return { answered: r.answered, theirs: r.theirs, ...(r.error != null ? { error: r.error } : {}) }
    },
    stop: async () => { await node.stop() }
  }
}

// ---- as a program: flags → options, events → NDJSON on stdout
function flag (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const print = (e: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ t: Date.now(), ...e }) + '\n') }
  const peer = await startSpecPeer({
    roles: (flag('roles') ?? 'spec') as Roles,
    dialPort: Number(flag('dial-port') ?? 0),
    ...(flag('relay') != null ? { relay: flag('relay') } : {}),
    reserve: process.argv.includes('--reserve'),
    serveRelay: process.argv.includes('--serve-relay'),
    noDial: process.argv.includes('--no-dial'),
    padAddresses: Number(flag('pad-addresses') ?? 0),
    answerDelayMs: Number(flag('answer-delay-ms') ?? 0),
    attempts: Number(flag('attempts') ?? 3),
    claimFast: process.argv.includes('--claim-fast'),
    holdUpgradeMs: Number(flag('hold-upgrade-ms') ?? 0),
    ...(flag('addresses') != null ? { addresses: (flag('addresses') ?? '').split(',') } : {}),
    emit: print
  })
  // one exchange over a DIRECT connection (hostile tests: it must be refused)
  const directTo = flag('direct-exchange')
  if (directTo != null) {
    try {
      const conn = await peer.dial(directTo)
      const r = await peer.exchange(conn, (flag('addresses') ?? '').split(',').filter(a => a !== '').map(a => multiaddr(a).bytes))
      print({ event: 'direct-exchange', relayed: isRelayedConn(conn), ...r })
    } catch (err) {
      print({ event: 'direct-exchange', answered: false, error: (err as Error).message })
    }
  }
  const target = flag('dial')
  if (target != null) {
    try {
      const conn = await peer.dial(target)
      print({ event: 'dialled', remoteAddr: conn.remoteAddr.toString(), relayed: isRelayedConn(conn) })
    } catch (err) {
      print({ event: 'dial-failed', error: (err as Error).message })
    }
  }
  const stop = (): void => { void peer.stop().finally(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
