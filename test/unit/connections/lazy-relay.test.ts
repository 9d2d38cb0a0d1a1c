// A relayed connection we dial selects /noise lazily: multistream-select's proposal and
// Noise's first message reach the peer in one flight, before any answer (one round trip
// over the relay less before the peer — the DCUtR initiator — can start the hole punch).
// Three real libp2p nodes on loopback: a stock relay, A (a stock node with a reservation,
// whose inbound relayed upgrade is held for a moment to count what arrived before its
// answer), and B dialling A through the relay with burrow's circuit transport or the stock one.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { LazyRelayNoiseError, lazyNoiseCircuitTransport, lazySelect, multistreamProposal } from '../../../src/connections/index.ts'
import type { Libp2p, MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import { until } from '../services/fakes.ts'

type CircuitComponents = Parameters<ReturnType<typeof circuitRelayTransport>>[0]

/** what a listener holding its upgrade saw arrive first on each relayed connection it received */
const earlyBytes: number[] = []

/** A's circuit transport: each inbound relayed connection is held 300 ms before its upgrade, its bytes counted meanwhile */
function holdingCircuitTransport<C extends { upgrader: Upgrader }> (factory: (components: C) => Transport): (components: C) => Transport {
  return (components: C) => factory(Object.create(components, {
    upgrader: {
      get: () => new Proxy(components.upgrader, {
        get (target, prop) {
          if (prop === 'upgradeInbound') {
            return async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) => {
              const conn = maConn as MultiaddrConnection & { onData: (data: Uint8Array | Uint8ArrayList) => void }
              const original = conn.onData
              let n = 0
              conn.onData = (data) => { n += data.byteLength; original.call(conn, data) }
              await new Promise(resolve => setTimeout(resolve, 300))
              conn.onData = original
              earlyBytes.push(n)
              await target.upgradeInbound(maConn, opts)
            }
          }
          const value: unknown = Reflect.get(target, prop, target)
          return typeof value === 'function' ? value.bind(target) : value
        }
      })
    }
  }) as C)
}

async function node (circuit: (components: CircuitComponents) => Transport, extra: Record<string, unknown> = {}): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp(), circuit],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ...extra }
  })
}

describe('relayed connections we dial: /noise selected lazily', () => {
  let relay: Libp2p
  let a: Libp2p
  let circuitAddr: Multiaddr
  const dialers: Libp2p[] = []

  before(async () => {
    relay = await node(circuitRelayTransport(), { relay: circuitRelayServer() })
    a = await createLibp2p({
      addresses: { listen: ['/p2p-circuit'] },
      transports: [tcp(), holdingCircuitTransport(circuitRelayTransport())],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() }
    })
    await a.dial(relay.getMultiaddrs()[0]!)
    await until('A holds a reservation on the relay', () => a.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit')))
    circuitAddr = a.getMultiaddrs().find(ma => ma.toString().includes('/p2p-circuit'))!
  })

  after(async () => {
    await Promise.allSettled([...dialers, a, relay].map(async n => { await n?.stop() }))
  })

  async function firstFlight (circuit: (components: CircuitComponents) => Transport): Promise<number> {
    const b = await node(circuit)
    dialers.push(b)
    await b.dial(relay.getMultiaddrs()[0]!)
    const before = earlyBytes.length
    const conn = await b.dial(circuitAddr, { signal: AbortSignal.timeout(10_000) })
    assert.equal(conn.remotePeer.toString(), a.peerId.toString(), 'the relayed connection reached A, authenticated')
    assert.ok(conn.remoteAddr.toString().includes('/p2p-circuit'), 'it is relayed')
    await until('A has the relayed connection', () => a.getConnections(b.peerId).length > 0)
    const n = earlyBytes[before]
    assert.ok(n !== undefined, 'A held the upgrade of the relayed connection')
    return n
  }

  it('burrow\'s circuit transport sends Noise\'s first message behind its /noise proposal; the stock one waits for the answer', async () => {
    const proposal = multistreamProposal('/noise').byteLength
    const lazy = await firstFlight(lazyNoiseCircuitTransport(circuitRelayTransport()))
    assert.ok(lazy > proposal, `B sent more than the ${proposal}-byte proposal before any answer: ${lazy} bytes (Noise's first message followed it)`)
    const stock = await firstFlight(circuitRelayTransport())
    assert.equal(stock, proposal, `the stock transport sent the proposal alone and waited: ${stock} bytes`)
  })
})

describe('lazySelect: the peer\'s answer is checked as it comes', () => {
  /** a connection's reader as lazySelect sees it: what reached the upgrader, and the abort */
  function fakeConn (): { conn: MultiaddrConnection, read: number[], aborted: Error[] } {
    const read: number[] = []
    const aborted: Error[] = []
    const conn = {
      onData (data: Uint8Array | Uint8ArrayList) { read.push(...(data instanceof Uint8Array ? data : data.subarray())) },
      abort (err: Error) { aborted.push(err) }
    } as unknown as MultiaddrConnection
    return { conn, read, aborted }
  }
  const deliver = (conn: MultiaddrConnection, bytes: Uint8Array): void => { (conn as unknown as { onData: (d: Uint8Array) => void }).onData(bytes) }

  it('the answer a /noise listener gives is stripped, in any split, and what follows reaches the upgrader', () => {
    const { conn, read, aborted } = fakeConn()
    assert.equal(lazySelect(conn, '/noise', () => new Error('mismatch')), true)
    const answer = multistreamProposal('/noise')
    assert.deepEqual(read, [...answer], 'the upgrader read the answer at once')
    deliver(conn, answer.subarray(0, 5))
    deliver(conn, Uint8Array.from([...answer.subarray(5), 7, 8, 9]))
    assert.deepEqual(read, [...answer, 7, 8, 9], 'the real answer stripped, Noise\'s bytes passed on')
    assert.equal(aborted.length, 0)
  })

  it('any other answer (`na`: the peer does not speak /noise) closes the connection with the error given, and nothing more is read', () => {
    const { conn, read, aborted } = fakeConn()
    lazySelect(conn, '/noise', () => new LazyRelayNoiseError('the peer answered our /noise proposal over the relay with something else'))
    const header = multistreamProposal('/noise').subarray(0, 20)
    deliver(conn, Uint8Array.from([...header, 3, 0x6e, 0x61, 0x0a]))
    assert.equal(aborted.length, 1)
    assert.equal((aborted[0] as LazyRelayNoiseError).code, 'ERR_RELAYED_NOISE')
    deliver(conn, Uint8Array.from([1, 2, 3]))
    assert.equal(read.length, multistreamProposal('/noise').byteLength, 'only the answer handed over at the start was read')
    assert.equal(aborted.length, 1)
  })

  it('a connection without a reader to wrap is left to the normal negotiation', () => {
    assert.equal(lazySelect({ abort () {} } as unknown as MultiaddrConnection, '/noise', () => new Error('x')), false)
  })
})
