// The stable-port TCP transport (every outgoing connection from one dial port) and a second
// dial to an address that port already holds: two real libp2p nodes over loopback.
//
// An AutoNAT v2 server dials the asked address back with a forced dial. When it already holds
// a connection to that very address from its dial port (it reached the asking peer there, e.g.
// through the asker's port mapping), the dial must leave from another port: refusing it
// answered "dial error", and the asker took its mapped address for unreachable from the
// whole network segment for good (the NAT-PMP/PCP homes of test/portmap/protocols.test.ts).
// A hole punch's dial (punch: true) must still leave from the dial port, or not at all.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { stablePortTcp, freeTcpPort } from '../../../src/holepunch/index.ts'
import { nodeInternals } from '../../../src/node/internals.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { until } from '../services/fakes.ts'
import type { NodeInternals } from '../../../src/node/internals.ts'

const tcpPort = (ma: Multiaddr): number => Number(ma.getComponents().find(c => c.name === 'tcp')?.value)

describe('stable-port TCP: a second dial to an address the dial port already holds', () => {
  let dialPort: number
  let a: Libp2p<{ internals: NodeInternals }>
  let b: Libp2p

  before(async () => {
    dialPort = await freeTcpPort()
    a = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [stablePortTcp({ dialPort })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { internals: nodeInternals() }
    })
    b = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('a forced dial (an AutoNAT dial-back) leaves from an ephemeral port; a punch dial is refused as a duplicate', async () => {
    const target = b.getMultiaddrs()[0]!
    const first = await a.dial(target, { signal: AbortSignal.timeout(10_000) })
    const onB = (): number[] => b.getConnections(a.peerId).map(c => tcpPort(c.remoteAddr)).sort((x, y) => x - y)
    await until('B holds the first connection', () => onB().length === 1)
    assert.deepEqual(onB(), [dialPort], 'the first connection left from the dial port')

    // what @libp2p/autonat-v2's server does to dial a peer back: openConnection(addr, { force: true })
    const second = await a.dial(target, { force: true, signal: AbortSignal.timeout(10_000) })
    assert.notEqual(second.id, first.id, 'a second connection, not the first one again')
    assert.equal(second.status, 'open')
    await until('B holds the second connection', () => onB().length === 2)
    const ports = onB()
    assert.equal(ports.length, 2, `B sees two connections from A: ${ports.join(', ')}`)
    assert.ok(ports.includes(dialPort) && ports.some(p => p !== dialPort), `one from the dial port ${dialPort}, one from another: ${ports.join(', ')}`)
    await second.close()
    await until('B saw the second connection close', () => onB().length === 1)

    // a hole punch's dial goes straight to the transports, flagged punch: the dial port or nothing
    const { transportManager } = a.services.internals
    await assert.rejects(
      transportManager.dial(target, { signal: AbortSignal.timeout(10_000), punch: true } as Parameters<typeof transportManager.dial>[1]),
      (err: Error) => err.name === 'DuplicateDialError' && err.message.includes(`from dial port ${dialPort}`)
    )
    assert.deepEqual(onB(), [dialPort], 'the punch dial opened nothing')
  })
})
