// The dial policy's address classes and the rule for addresses a peer asks us to dial (src/dial-policy).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { classifyIp, ipBytes, denyDial, peerSuppliedRefusal } from '../../../src/dial-policy/index.ts'
import { isRelayedAddress } from '../../../src/connections/index.ts'

describe('dial policy', () => {
  it('classifies every textual form of the addresses that reach ourselves', () => {
    for (const [ip, kind] of [
      ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'], ['0:0:0:0:0:0:0:0', 'unspecified'],
      ['127.0.0.1', 'loopback'], ['127.9.9.9', 'loopback'], ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'], ['0000:0000::0001', 'loopback'],
      ['::ffff:127.0.0.1', 'ipv4-mapped'], ['::ffff:7f00:1', 'ipv4-mapped'], ['0:0:0:0:0:ffff:0a00:0001', 'ipv4-mapped'], ['::127.0.0.1', 'ipv4-mapped'],
      ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
      ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast'], ['240.0.0.1', 'reserved'],
      ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'], ['fd00::1', 'private'],
      ['172.32.0.1', 'public'], ['8.8.8.8', 'public'], ['21.1.2.3', 'public'], ['2001:db8::1', 'public'], ['2606:4700::1111', 'public'],
      ['not-an-ip', 'invalid'], ['1.2.3', 'invalid']
    ]) {
      assert.equal(classifyIp(ip as string), kind, ip)
    }
    assert.deepEqual([...ipBytes('::ffff:1.2.3.4') ?? []], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4])
  })

  it('never dials unspecified, multicast or IPv4-mapped forms, whoever asks', () => {
    for (const policy of ['all', 'none', 'local-subnets'] as const) {
      for (const a of ['/ip4/0.0.0.0/tcp/1', '/ip6/::/tcp/1', '/ip6/::ffff:127.0.0.1/tcp/1', '/ip4/224.0.0.1/tcp/1', '/ip4/255.255.255.255/tcp/1']) {
        assert.equal(denyDial(multiaddr(a), policy), true, `${a} under ${policy}`)
      }
      assert.equal(denyDial(multiaddr('/ip4/21.0.0.1/tcp/4001'), policy), false)
      assert.equal(denyDial(multiaddr('/dns4/example.com/tcp/4001'), policy), false)
    }
    assert.equal(denyDial(multiaddr('/ip4/10.255.0.1/tcp/1'), 'all'), false, "'on' keeps dialling learned private addresses")
    assert.equal(denyDial(multiaddr('/ip4/10.255.0.1/tcp/1'), 'none'), true)
    assert.equal(denyDial(multiaddr('/ip4/127.0.0.1/tcp/1'), 'local-subnets'), false, 'loopback is one of our subnets')
  })

  it('refuses every address a peer hands us that is not a public or an own-subnet private one, under every mode', () => {
    for (const policy of ['all', 'none', 'local-subnets'] as const) {
      for (const a of ['/ip4/0.0.0.0/tcp/1', '/ip6/::/tcp/1', '/ip6/::ffff:127.0.0.1/tcp/1', '/ip6/0:0:0:0:0:0:0:1/tcp/1', '/ip4/127.0.0.1/tcp/1',
        '/ip4/169.254.0.1/tcp/1', '/ip6/fe80::1/tcp/1', '/ip4/10.255.0.1/tcp/1', '/ip4/192.168.254.1/tcp/1', '/ip6/ff02::1/tcp/1']) {
        assert.notEqual(peerSuppliedRefusal(multiaddr(a), policy), undefined, `${a} under ${policy}`)
      }
      assert.equal(peerSuppliedRefusal(multiaddr('/ip4/21.0.0.1/tcp/4001'), policy), undefined)
    }
    assert.match(peerSuppliedRefusal(multiaddr('/ip4/10.255.0.1/tcp/1'), 'all') ?? '', /none of our subnets/)
    assert.match(peerSuppliedRefusal(multiaddr('/ip4/10.255.0.1/tcp/1'), 'none') ?? '', /dialPrivateAddresses/)
  })

  it('tells a relayed connection by its address, limits or not', () => {
    assert.equal(isRelayedAddress('/ip4/21.0.0.1/tcp/4001/p2p/12D3KooWRKPXsgCcJeCyhn6ZmRvoHpt6kszQStsPDh8cwUqRwhDM/p2p-circuit/p2p/12D3KooWBHeJFyEmeic4ivFCSdWA6rbfnTRrviENjA9dS328pEEW'), true)
    assert.equal(isRelayedAddress('/ip4/21.0.0.1/tcp/4001/p2p/12D3KooWRKPXsgCcJeCyhn6ZmRvoHpt6kszQStsPDh8cwUqRwhDM/p2p-circuit/webrtc/p2p/12D3KooWBHeJFyEmeic4ivFCSdWA6rbfnTRrviENjA9dS328pEEW'), false, 'WebRTC only signalled over the relay')
    assert.equal(isRelayedAddress('/ip4/21.0.0.1/tcp/4001'), false)
  })
})

describe('STUN servers taken from the bootstrap list', () => {
  it("none from amino's own list (kubo nodes serve no STUN); a list the user gave is taken as burrow relays", async () => {
    const { stunServersOf } = await import('../../../src/node/libp2p.ts')
    const { defaultsObject } = await import('../../../src/config/index.ts')
    const base = defaultsObject() as Parameters<typeof stunServersOf>[0]
    const list = ['/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ']
    assert.deepEqual(stunServersOf({ ...base, network: 'amino', bootstrap: null }, list), [])
    assert.equal(stunServersOf({ ...base, network: 'amino', bootstrap: list }, list).length, 1)
    assert.equal(stunServersOf({ ...base, network: 'burrow', bootstrap: null }, list).length, 1)
    assert.deepEqual(stunServersOf({ ...base, network: 'amino', stunServers: ['stun:21.0.0.1:3478'] }, list), ['stun:21.0.0.1:3478'])
  })
})

describe('never dialling ourselves', () => {
  it("a peer's announced 127.0.0.1:4001 is our own listener when we listen on that port", async () => {
    const { isOwnListenAddress } = await import('../../../src/dial-policy/index.ts')
    const listening = [multiaddr('/ip4/0.0.0.0/tcp/4001')]
    assert.equal(isOwnListenAddress(multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'), listening), true)
    assert.equal(isOwnListenAddress(multiaddr('/ip4/127.0.0.1/tcp/4002'), listening), false, 'another port: another daemon on this host')
    assert.equal(isOwnListenAddress(multiaddr('/ip4/21.0.0.1/tcp/4001'), listening), false, 'not one of our addresses')
    assert.equal(isOwnListenAddress(multiaddr('/ip4/127.0.0.1/tcp/4001'), [multiaddr('/ip4/127.0.0.1/tcp/4001')]), true)
    assert.equal(isOwnListenAddress(multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq/p2p-circuit/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'), listening), true, "a circuit's first hop at our own listener")
  })
})
