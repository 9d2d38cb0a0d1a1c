// AutoNAT v2 with no dial-back through a relay (src/nat/autonat-v2.ts): the stock server
// asks the connection manager whether it can dial an address before each dial-back and
// refuses what it cannot; circuit addresses are made undialable for it, nothing else.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { withoutCircuitDialBacks } from '../../../src/nat/autonat-v2.ts'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

const RELAY = '12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3'
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

function fakeManager (): { cm: ConnectionManager, asked: string[][] } {
  const asked: string[][] = []
  const cm = {
    isDialable: async (addrs: Multiaddr | Multiaddr[]) => { asked.push((Array.isArray(addrs) ? addrs : [addrs]).map(a => a.toString())); return true },
    getConnections: () => ['kept']
  } as unknown as ConnectionManager
  return { cm, asked }
}

describe('AutoNAT v2 without dial-backs through relays', () => {
  it('a circuit address is not dialable for it; its own addresses are asked as before; the rest of the connection manager is untouched', async () => {
    const { cm, asked } = fakeManager()
    const guarded = withoutCircuitDialBacks(cm)
    const circuit = multiaddr(`/ip4/203.0.113.7/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)
    const direct = multiaddr('/ip4/198.51.100.9/tcp/4001')
    assert.equal(await guarded.isDialable(circuit), false, 'a dial-back request for a circuit address is refused')
    assert.deepEqual(asked, [], 'and the real connection manager is not even asked')
    assert.equal(await guarded.isDialable(direct), true)
    // a random-walk peer with both kinds: only its own address counts
    assert.equal(await guarded.isDialable([circuit, direct]), true)
    assert.deepEqual(asked, [[direct.toString()], [direct.toString()]])
    assert.deepEqual(guarded.getConnections(), ['kept'])
  })
})
