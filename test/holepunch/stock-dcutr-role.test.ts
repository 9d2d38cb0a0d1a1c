// Why burrow runs its own DCUtR service instead of @libp2p/dcutr (docs/DESIGN.md, "Why not
// the stock @libp2p/dcutr"): the stock service has B dial with
// `connectionManager.openConnection(addrs, { force: true, initiator: false })` to be the
// server of the upgrade, but the dial queue keeps only its own options and drops
// `initiator`, so B upgrades as the client like A does, and in a TCP simultaneous open both
// ends are clients. Two plain libp2p nodes on loopback show it: the same request through the
// transport manager (burrow's path) does make B the server. When this test fails, the stock
// path carries the role: reconsider using the stock service.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'

interface Internals { connectionManager: ConnectionManager, transportManager: TransportManager }

async function node (listen: string[]): Promise<{ node: Libp2p<{ internals: Internals }>, internals: Internals }> {
  const n = await createLibp2p({
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { internals: (c: Internals) => ({ connectionManager: c.connectionManager, transportManager: c.transportManager }) }
  })
  return { node: n, internals: n.services.internals }
}

describe('the stock DCUtR dial loses its upgrade role', () => {
  let a: Awaited<ReturnType<typeof node>>
  let b: Awaited<ReturnType<typeof node>>

  before(async () => {
    a = await node(['/ip4/127.0.0.1/tcp/0'])
    b = await node([])
  })
  after(async () => {
    await b?.node.stop()
    await a?.node.stop()
  })

  it('stock: B asks the connection manager for the server role (initiator: false) and upgrades as the client anyway', async () => {
    const addr = a.node.getMultiaddrs()[0]
    assert.ok(addr != null)
    // exactly the call @libp2p/dcutr makes as B (dcutr.ts, upgradeInbound)
    const conn = await b.internals.connectionManager.openConnection(addr, { force: true, initiator: false, signal: AbortSignal.timeout(10_000) } as Parameters<ConnectionManager['openConnection']>[1])
    // a server-role dial to a plain listener could not complete (both ends would wait as
    // servers, see the next test); this one did, as an ordinary client dial
    assert.equal(conn.status, 'open')
    assert.equal(conn.direction, 'outbound')
    await conn.close()
  })

  it('burrow\'s path: the same request through the transport manager makes B the server (against a plain listener nobody speaks first)', async () => {
    const addr = a.node.getMultiaddrs()[0]
    assert.ok(addr != null)
    await assert.rejects(b.internals.transportManager.dial(addr, { initiator: false, signal: AbortSignal.timeout(3_000) } as Parameters<TransportManager['dial']>[1]))
    // the control: the same dial without the server role completes
    const conn = await b.internals.transportManager.dial(addr, { signal: AbortSignal.timeout(10_000) } as Parameters<TransportManager['dial']>[1])
    assert.equal(conn.status, 'open')
    await conn.close()
  })
})
