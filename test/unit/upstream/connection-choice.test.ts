// Which connection a new stream to a peer goes over when there are several. libp2p hands out
// the newest direct one; AutoNAT v2's server opens a forced dial-back connection beside the
// established one and closes it a moment later, and a stream opened in between died with it
// (the lab: kad-dht's ping of the relay, so the relay never entered the routing table).
// Real nodes on loopback: the forced connection is the probe's, the stream goes over the other.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { ping } from '@libp2p/ping'
import { nodeInternals } from '../../../src/node/internals.ts'
import { patchConnectionChoice } from '../../../src/upstream/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { NodeInternals } from '../../../src/node/internals.ts'

async function peer (): Promise<Libp2p<{ internals: NodeInternals, ping: Ping }>> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { internals: nodeInternals(), ping: ping() }
  })
}

describe('connection-choice: a forced (probe) connection is not where new streams go', () => {
  let a: Libp2p<{ internals: NodeInternals, ping: Ping }>
  let b: Libp2p<{ internals: NodeInternals, ping: Ping }>
  before(async () => { [a, b] = await Promise.all([peer(), peer()]) })
  after(async () => { await Promise.all([a?.stop(), b?.stop()]) })

  it('stock libp2p hands out the forced connection; patched, the established one, and a ping over it survives the probe\'s close', async () => {
    const manager = a.services.internals.connectionManager
    const target = b.getMultiaddrs()[0]!
    const established = await manager.openConnection(target)
    // as AutoNAT v2's server dials a peer back
    const probe = await manager.openConnection(target, { force: true })
    assert.notEqual(probe, established)
    assert.equal(a.getConnections(b.peerId).length, 2)
    // what libp2p alone does (the defect): the newest direct connection
    assert.equal(await manager.openConnection(b.peerId), probe, 'stock libp2p picks the forced connection (if this fails, libp2p changed its choice: see src/upstream/connection-choice.ts)')
    await probe.close()

    const probe2 = await (async () => {
      const isProbe = patchConnectionChoice(manager)
      const p = await manager.openConnection(target, { force: true })
      assert.ok(isProbe(p))
      assert.ok(!isProbe(established))
      return p
    })()
    assert.equal(await manager.openConnection(b.peerId), established, 'patched: the established connection')
    // a ping started while the probe is open, the probe closed under it: the ping is answered
    const rtt = a.services.ping.ping(b.peerId)
    await probe2.close()
    assert.ok(await rtt >= 0)
    assert.equal(established.status, 'open')
    // alone, the probe's peer still gets it (nothing else to hand out)
    await established.close()
    const alone = await manager.openConnection(target, { force: true })
    assert.equal(await manager.openConnection(b.peerId), alone)
  })
})
