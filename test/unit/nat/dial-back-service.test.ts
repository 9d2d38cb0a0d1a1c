// The AutoNAT dial-back requester is a libp2p service started on its own with fake
// components: once libp2p has started, a new port mapping makes it ask the connected
// AutoNAT v2 peers to dial the mapped address back; stop() unsubscribes.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TypedEventEmitter, serviceDependencies } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { autoNatDialBackService, AUTONAT_V2_DIAL_REQUEST } from '../../../src/nat/index.ts'
import { logger, until } from '../services/fakes.ts'

const PEER = peerIdFromString('12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3')

/** Longer than the requester's coalescing window (200 ms): a request would have gone out by then. */
const QUIET_MS = 400

function fakes (autoNAT: unknown) {
  let confirmed = false
  const portMapper = Object.assign(new TypedEventEmitter<{ 'nat:mapping-created': CustomEvent<unknown> }>(), {
    report: () => ({ mappings: [{ offered: true, announced: confirmed }] })
  })
  const conn = { remotePeer: PEER, direction: 'outbound', limits: undefined, status: 'open', abort () {} }
  const dialed: unknown[] = []
  const components = {
    autoNAT,
    portMapper,
    ping: { ping: async () => 1 },
    connectionManager: { getConnections: () => [conn], openConnection: async (peer: unknown) => { dialed.push(peer); return conn } },
    peerStore: { get: async () => ({ protocols: [AUTONAT_V2_DIAL_REQUEST] }) },
    logger
  }
  return { components: components as never, portMapper, conn, dialed, confirm: () => { confirmed = true } }
}

describe('the AutoNAT dial-back requester, started on its own', () => {
  it('asks a connected AutoNAT v2 peer to dial back each new mapping once libp2p has started, and nothing after stop', async () => {
    const verified: unknown[] = []
    const f = fakes({ client: { verifyExternalAddresses: async (c: unknown) => { verified.push(c); f.confirm() }, queue: { onIdle: async () => {} }, dialResults: new Map() } })
    const svc = autoNatDialBackService()(f.components)
    assert.deepEqual(svc[serviceDependencies], ['@libp2p/autonat', '@libp2p/ping'])
    svc.start()
    f.portMapper.safeDispatchEvent('nat:mapping-created', { detail: {} })
    await new Promise(resolve => setTimeout(resolve, QUIET_MS))
    assert.equal(verified.length, 0, 'before libp2p has started nothing is asked')
    svc.afterStart()
    assert.equal(svc.active, true)
    f.portMapper.safeDispatchEvent('nat:mapping-created', { detail: {} })
    await until('a dial-back request', () => verified.length === 1)
    assert.equal(verified[0], f.conn, 'asked over the open outbound connection to the AutoNAT peer')
    svc.stop()
    assert.equal(svc.active, false)
    f.portMapper.safeDispatchEvent('nat:mapping-created', { detail: {} })
    await new Promise(resolve => setTimeout(resolve, QUIET_MS))
    assert.equal(verified.length, 1, 'a stopped service asks nothing')
  })

  it('an AutoNAT whose client has another shape: the service stays inactive and a mapping asks nothing', async () => {
    const f = fakes({ somethingElse: true })
    const svc = autoNatDialBackService()(f.components)
    svc.start()
    svc.afterStart()
    assert.equal(svc.active, false)
    f.portMapper.safeDispatchEvent('nat:mapping-created', { detail: {} })
    await new Promise(resolve => setTimeout(resolve, QUIET_MS))
    assert.deepEqual(f.dialed, [])
    svc.stop()
  })
})
