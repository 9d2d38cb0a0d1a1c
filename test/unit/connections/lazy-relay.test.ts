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
import { lazyNoiseCircuitTransport, multistreamProposal } from '../../../src/connections/index.ts'
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
