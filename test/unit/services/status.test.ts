// `burrow status` is assembled from each service's own slice in one pure function
// (src/node/status.ts): a port mapping outranks the dial-back verdict, circuit addresses
// are told apart from the node's own, and the outbox is counted by state.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { assembleStatus, whyRelayedOf } from '../../../dist/node/status.js'
import type { StatusParts } from '../../../dist/node/status.js'

const RELAY = '12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3'

function parts (over: Partial<StatusParts> = {}): StatusParts {
  return {
    node: { peerId: 'SELF', network: 'test', version: '0.0.0', startedAt: '2026-01-01T00:00:00.000Z' },
    reachability: { reachability: 'private', source: 'observed-address', reason: 'behind a NAT', nat: { mapping: 'endpoint-independent', behindNat: true, publicAddresses: ['203.0.113.7'] }, observed: ['/ip4/203.0.113.7/tcp/4001'] },
    portMapper: { reachability: undefined, mappings: [] },
    addresses: { listen: ['/ip4/10.0.0.2/tcp/4001'], announced: ['/ip4/10.0.0.2/tcp/4001', `/ip4/198.51.100.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/SELF`] },
    reservations: [],
    holePunch: { dialPort: 4001, attempts: [] },
    udp: { enabled: true, port: 4001, mapping: 'endpoint-independent', reason: 'two STUN sources saw one public port', publicAddress: '203.0.113.7:4001', stunSources: [], checkedAt: '2026-01-01T00:00:01.000Z', attempts: [] },
    udpPunch: { enabled: true, stunServers: ['stun:198.51.100.1:3478'], attempts: [] },
    stun: null,
    rendezvous: { providedAt: null },
    knownPeers: { bootstrap: { peers: 2, answered: 1 } },
    connections: [],
    dht: { protocol: '/burrow/kad/1.0.0', mode: 'client', routingTable: 5 },
    messages: { outbox: [{ state: 'pending' }, { state: 'failed' }, { state: 'pending' }, { state: 'delivered' as never }], usage: { inbox: { bytes: 1, count: 1, maxBytes: 2, maxCount: 2 } } as never },
    ...over
  }
}

describe('status assembly', () => {
  it('takes each service\'s slice as it is: reachability, addresses split into own and relayed, the UDX path, DHT, bootstrap, outbox counts', () => {
    const st = assembleStatus(parts())
    assert.equal(st.reachability, 'private')
    assert.equal(st.reachabilitySource, 'observed-address')
    assert.equal(st.reachabilityReason, 'behind a NAT')
    assert.deepEqual(st.nat, { mapping: 'endpoint-independent', behindNat: true, publicAddresses: ['203.0.113.7'] })
    assert.deepEqual(st.addresses, {
      listen: ['/ip4/10.0.0.2/tcp/4001'],
      announced: ['/ip4/10.0.0.2/tcp/4001'],
      observed: ['/ip4/203.0.113.7/tcp/4001'],
      relayed: [`/ip4/198.51.100.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/SELF`]
    })
    assert.deepEqual(st.dht, { protocol: '/burrow/kad/1.0.0', mode: 'client', routingTable: 5 })
    assert.deepEqual(st.bootstrap, { peers: 2, answered: 1 })
    assert.equal(st.udp.mapping, 'endpoint-independent')
    assert.equal(st.udp.publicAddress, '203.0.113.7:4001')
    assert.deepEqual(st.udpPunch, { enabled: true, stunServers: ['stun:198.51.100.1:3478'], attempts: [], stunServer: null })
    assert.equal(st.messages.outboxPending, 2)
    assert.equal(st.messages.outboxFailed, 1)
    assert.deepEqual((st.messages as unknown as { inbox: unknown }).inbox, { bytes: 1, count: 1, maxBytes: 2, maxCount: 2 })
  })

  it('a mapped or forwarded port outranks the dial-back verdict', () => {
    const st = assembleStatus(parts({ portMapper: { reachability: { reachability: 'public', reachabilitySource: 'port-mapping' }, mappings: [{ protocol: 'upnp', internal: '10.0.0.2:4001', external: '203.0.113.7:4001', expiresAt: null, confirmed: true }] } }))
    assert.equal(st.reachability, 'public')
    assert.equal(st.reachabilitySource, 'port-mapping')
    assert.equal(st.reachabilityReason, 'reachable through a mapped or forwarded port')
    assert.equal(st.portMappings.length, 1)
  })
})

describe('whyRelayed, told from the path module\'s and the UDX punch\'s slices', () => {
  it('says hole punching is off only when no strategy is registered', () => {
    assert.equal(whyRelayedOf({ holePunch: false, strategies: 0, failures: [] }), 'hole punching is off (holePunch: false, udx: false, udpPunch: false)')
    assert.match(whyRelayedOf({ holePunch: false, strategies: 1, failures: [] }), /^hole punch in progress/)
  })

  it('joins the failures per strategy, and adds the UDX verdict unless a failure already ends with it', () => {
    assert.equal(whyRelayedOf({ holePunch: true, strategies: 2, failures: ['tcp: timed out'], udx: 'udx: both NATs endpoint-dependent' }), 'tcp: timed out; udx: both NATs endpoint-dependent')
    assert.equal(whyRelayedOf({ holePunch: true, strategies: 2, failures: ['both NATs endpoint-dependent'], udx: 'udx: both NATs endpoint-dependent' }), 'both NATs endpoint-dependent')
    assert.match(whyRelayedOf({ holePunch: true, strategies: 2, failures: [] }), /^hole punch in progress or not started yet/)
  })
})
