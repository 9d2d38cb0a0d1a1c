/**
 * One IP cannot drain a relay (issue 10, found-item 3): 130 fresh identities from
 * 127.0.0.1 reserve one after another and disconnect; at most
 * relay.reservationsPerIpPerHour succeed, the rest get RESERVATION_REFUSED and the relay
 * logs why. Identities of one IP that stay connected hold at most
 * relay.maxReservationsPerIp. A peer from another address (127.0.0.2, also on loopback)
 * still gets a reservation and a circuit that carries bytes, and one connection cannot
 * hold more circuits than relay.maxCircuitsPerPeer. One IPv6 /64: one-ip-v6.test.ts.
 *
 * The clients are bare js-libp2p nodes in this process speaking the hop and stop
 * protocols by hand (libp2p/specs relay/circuit-v2.md), against a real daemon.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { FIELDS } from '../../dist/config/index.js'
import { startDaemon, stopAll, sleep, waitFor } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'
import type { Libp2p, Stream } from '@libp2p/interface'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'

interface Msg { type?: string, status?: string, peer?: { id: Uint8Array, addrs: Uint8Array[] } }
type Codec = Parameters<ReturnType<typeof pbStream>['pb']>[0]
// the relay's own protobuf codec (the package exports only its root)
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as {
  HopMessage: Codec & { Type: Record<string, string> }
  StopMessage: Codec & { Type: Record<string, string> }
  Status: Record<string, string>
}

function defaultOf (path: string): number {
  const v = FIELDS.find(f => f.path === path)?.default
  assert.equal(typeof v, 'number', path)
  return v as number
}
const PER_IP = defaultOf('relay.maxReservationsPerIp')
const PER_HOUR = defaultOf('relay.reservationsPerIpPerHour')
const PER_PEER = defaultOf('relay.maxCircuitsPerPeer')

type TcpDialOpts = NonNullable<NonNullable<Parameters<typeof tcp>[0]>['dialOpts']>

/** A bare client whose TCP connections leave from `source` (any 127/8 address is on loopback). */
async function client (source: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: { localAddress: source } as unknown as TcpDialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

/**
 * A hop stream to the relay. libp2p refuses more than 5 inbound connections a second
 * from one host (inboundConnectionThreshold), so a refused connection is tried again.
 */
async function hopStream (node: Libp2p, relay: string): Promise<Stream> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await node.dialProtocol(multiaddr(relay), HOP, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      if (attempt >= 40) throw err
      await sleep(250)
    }
  }
}

async function reserve (node: Libp2p, relay: string): Promise<string | undefined> {
  const stream = await hopStream(node, relay)
  const s = pbStream(stream).pb(pb.HopMessage)
  await s.write({ type: pb.HopMessage.Type.RESERVE })
  const res = await s.read({ signal: AbortSignal.timeout(10_000) }) as Msg
  await stream.close()
  return res.status
}

/** CONNECT to `target` through the relay; on OK the stream is the circuit. */
async function connect (node: Libp2p, relay: string, target: Libp2p): Promise<{ status?: string, circuit: Stream }> {
  const stream = await hopStream(node, relay)
  const s = pbStream(stream)
  await s.pb(pb.HopMessage).write({ type: pb.HopMessage.Type.CONNECT, peer: { id: target.peerId.toMultihash().bytes, addrs: [] } })
  const res = await s.pb(pb.HopMessage).read({ signal: AbortSignal.timeout(10_000) }) as Msg
  return { status: res.status, circuit: s.unwrap() }
}

/** The target's side of a circuit: accept every STOP and echo what arrives. */
async function acceptCircuits (node: Libp2p): Promise<void> {
  await node.handle(STOP, async (stream) => {
    try {
      const s = pbStream(stream)
      await s.pb(pb.StopMessage).read()
      await s.pb(pb.StopMessage).write({ type: pb.StopMessage.Type.STATUS, status: pb.Status.OK })
      const raw = s.unwrap()
      for await (const chunk of raw) raw.send(chunk)
      await raw.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { runOnLimitedConnection: true, maxInboundStreams: 64 })
}

async function echoes (circuit: Stream, bytes: Uint8Array): Promise<boolean> {
  let got = 0
  const back = new Promise<boolean>(resolve => {
    circuit.addEventListener('message', evt => { got += evt.data.byteLength; if (got >= bytes.byteLength) resolve(true) })
    circuit.addEventListener('close', () => { resolve(got >= bytes.byteLength) })
    setTimeout(() => { resolve(false) }, 10_000).unref()
  })
  circuit.send(bytes)
  return back
}

describe('relay fairness: one IP cannot drain the relay', () => {
  let relay: Daemon
  const clients: Libp2p[] = []
  const started = async (source: string): Promise<Libp2p> => {
    const c = await client(source)
    clients.push(c)
    return c
  }

  before(async () => {
    relay = await startDaemon('relay-one-ip', { args: ['--relay-server', 'on'], env: { DEBUG: 'burrow:relay:server' } })
  })
  after(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    await stopAll()
  })

  it(`130 identities from one IP that reserve and disconnect get at most relay.reservationsPerIpPerHour (${PER_HOUR})`, async () => {
    const statuses: Record<string, number> = {}
    const t0 = performance.now()
    for (let i = 0; i < 130; i++) {
      const c = await client('127.0.0.1')
      try {
        const status = await reserve(c, relay.address) ?? 'none'
        statuses[status] = (statuses[status] ?? 0) + 1
      } finally {
        await c.stop()
      }
    }
    const ok = statuses.OK ?? 0
    console.log(`130 identities from 127.0.0.1 in ${Math.round(performance.now() - t0)} ms: ${JSON.stringify(statuses)}`)
    assert.ok(ok >= 1, 'the first identity got a reservation')
    assert.ok(ok <= PER_HOUR, `${ok} reservations from one IP (budget ${PER_HOUR} an hour)`)
    assert.equal(statuses.RESERVATION_REFUSED, 130 - ok, 'every other request got the spec\'s status')
    assert.match(relay.output(), /RESERVATION_REFUSED: reservation for \S+ refused: 127\.0\.0\.1 got its \d+ new reservations of the hour \(relay\.reservationsPerIpPerHour\)/)
  })

  it(`identities of one IP that stay connected hold at most relay.maxReservationsPerIp (${PER_IP})`, async () => {
    const statuses: string[] = []
    for (let i = 0; i < PER_IP + 4; i++) statuses.push(await reserve(await started('127.0.0.9'), relay.address) ?? 'none')
    const ok = statuses.filter(s => s === 'OK').length
    assert.ok(ok >= 1, 'the first identity got a reservation')
    assert.ok(ok <= PER_IP, `${ok} reservations held from one IP (cap ${PER_IP})`)
    assert.equal(statuses.filter(s => s === 'RESERVATION_REFUSED').length, statuses.length - ok)
    assert.match(relay.output(), /RESERVATION_REFUSED: reservation for \S+ refused: 127\.0\.0\.9 holds \d+ \(relay\.maxReservationsPerIp\)/)
  })

  it('after those 130, a peer from another address still gets a reservation and a circuit that carries bytes', async () => {
    const target = await started('127.0.0.2')
    await acceptCircuits(target)
    assert.equal(await reserve(target, relay.address), 'OK')
    // reserve() closed its stream but the connection, which holds the reservation, stays
    const source = await started('127.0.0.3')
    const { status, circuit } = await connect(source, relay.address, target)
    assert.equal(status, 'OK')
    assert.equal(await echoes(circuit, new Uint8Array(4096).fill(7)), true, 'the circuit echoed 4 KiB')
  })

  it(`one connection cannot hold more than relay.maxCircuitsPerPeer (${PER_PEER}) circuits, and others still get theirs`, async () => {
    const target = await started('127.0.0.6')
    await acceptCircuits(target)
    assert.equal(await reserve(target, relay.address), 'OK')
    const greedy = await started('127.0.0.4')
    const asks = await Promise.allSettled(Array.from({ length: PER_PEER + 8 }, async () => connect(greedy, relay.address, target)))
    assert.equal(greedy.getConnections().length, 1, 'all over one connection')
    const statuses = asks.map(a => a.status === 'fulfilled' ? a.value.status ?? 'none' : 'stream refused')
    const ok = statuses.filter(s => s === 'OK').length
    console.log(`${PER_PEER + 8} CONNECTs over one connection: ${JSON.stringify(statuses)}`)
    assert.ok(ok >= 1, 'the first circuit opened')
    assert.ok(ok <= PER_PEER, `${ok} circuits on one connection (cap ${PER_PEER})`)
    assert.ok(statuses.includes('RESOURCE_LIMIT_EXCEEDED'), 'a refused circuit gets the spec\'s status')
    // while the greedy connection holds its circuits, another peer gets one that works
    const other = await started('127.0.0.5')
    const { status, circuit } = await connect(other, relay.address, target)
    assert.equal(status, 'OK')
    assert.equal(await echoes(circuit, new Uint8Array(1024).fill(9)), true)
    assert.equal(relay.child.exitCode, null)
  })
})

describe('relay fairness: a reservation ends with its holder\'s connection', () => {
  let relay: Daemon
  const clients: Libp2p[] = []
  const started = async (source: string): Promise<Libp2p> => {
    const c = await client(source)
    clients.push(c)
    return c
  }

  before(async () => {
    relay = await startDaemon('relay-holder-left', {
      args: ['--relay-server', 'on'],
      env: { BURROW_RELAY_MAX_RESERVATIONS: '2', BURROW_RELAY_MAX_RESERVATIONS_PER_IP: '1' }
    })
  })
  after(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    await stopAll()
  })

  it('the slot of a holder that left goes to another peer (relay.maxReservations 2)', async () => {
    const left = await started('127.0.1.1')
    assert.equal(await reserve(left, relay.address), 'OK')
    await left.stop()
    assert.equal(await reserve(await started('127.0.1.2'), relay.address), 'OK')
    // the relay learns of the disconnect asynchronously: ask until it did (the stock store kept the slot for an hour)
    const late = await started('127.0.1.3')
    await waitFor('a reservation once the first holder left', async () => await reserve(late, relay.address) === 'OK', 10_000)
  })

  it('a holder that leaves frees its place on its IP (relay.maxReservationsPerIp 1)', async () => {
    // the first test's holders leave, so the store has room
    for (const c of clients.splice(0)) await c.stop()
    const holder = await started('127.0.1.4')
    await waitFor('a reservation once the first test\'s holders left', async () => await reserve(holder, relay.address) === 'OK', 10_000)
    assert.equal(await reserve(await started('127.0.1.4'), relay.address), 'RESERVATION_REFUSED', 'its IP holds one')
    await holder.stop()
    const next = await started('127.0.1.4')
    await waitFor('a reservation once the holder left', async () => await reserve(next, relay.address) === 'OK', 10_000)
  })
})
