// The lab's reading of miniupnpd's nftables chain (which mappings the home router holds).
// The port-mapping codecs' tests are in test/unit/portmap/codec.test.ts, against the sources.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseMiniupnpdChain } from '../../lab/dist/index.js'

describe('lab helpers', () => {
  it('parses miniupnpd nftables rules (the lab helper)', () => {
    assert.deepEqual(parseMiniupnpdChain('iif "x" @nh,72,8 0x6 th dport 4001 dnat ip to 192.168.1.10:4001\n iif "x" udp dport 5 dnat to 10.0.0.2:6'), [
      { protocol: 'tcp', externalPort: 4001, internalIp: '192.168.1.10', internalPort: 4001 },
      { protocol: 'udp', externalPort: 5, internalIp: '10.0.0.2', internalPort: 6 }
    ])
  })
})
