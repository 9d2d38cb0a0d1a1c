/**
 * The NAT's UDP mapping from STUN answers on the UDX socket, and where those answers come
 * from: two server IPs, or one burrow relay answering at two ports (stunPort and stunPort + 1).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { verdictOf } from '../../../src/udx/stun.ts'
import { udxStunSources, stunAlternatePort } from '../../../src/udx/config.ts'
import { StunServer } from '../../../src/stun/server.ts'
import { stunBinding } from '../../../src/stun/client.ts'

const src = (server: string, mapped: string): { server: string, address: string, mapped: string } =>
  ({ server, address: server.slice(0, server.lastIndexOf(':')), mapped })

describe('UDP mapping verdict', () => {
  it('two server IPs that saw one public address: endpoint-independent', () => {
    const v = verdictOf([src('198.51.100.1:3478', '203.0.113.7:4001'), src('198.51.100.2:3478', '203.0.113.7:4001')])
    assert.equal(v.mapping, 'endpoint-independent')
  })

  it('two server IPs that saw different public ports: endpoint-dependent', () => {
    const v = verdictOf([src('198.51.100.1:3478', '203.0.113.7:40001'), src('198.51.100.2:3478', '203.0.113.7:52113')])
    assert.equal(v.mapping, 'endpoint-dependent')
  })

  it('one relay at two ports that saw different public ports: endpoint-dependent (one relay is enough to tell)', () => {
    const v = verdictOf([src('198.51.100.1:3478', '203.0.113.7:40001'), src('198.51.100.1:3479', '203.0.113.7:52113')])
    assert.equal(v.mapping, 'endpoint-dependent')
    assert.match(v.reason, /one STUN server at 2 ports/)
  })

  it('one relay at two ports that saw one public port: unknown (a NAT may map by destination address only)', () => {
    const v = verdictOf([src('198.51.100.1:3478', '203.0.113.7:4001'), src('198.51.100.1:3479', '203.0.113.7:4001')])
    assert.equal(v.mapping, 'unknown')
    assert.equal(v.publicAddress?.port, 4001)
  })
})

describe('STUN sources of the UDX socket', () => {
  it('asks each burrow relay at stunPort and stunPort + 1', () => {
    const relay = '/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    const sources = udxStunSources({ network: 'lab', bootstrap: [relay], stunPort: 3478, udp: { stunServers: null } }, [relay])
    assert.deepEqual(sources, ['198.51.100.1:3478', '198.51.100.1:3479'])
    assert.equal(stunAlternatePort(65535), undefined)
    assert.equal(stunAlternatePort(0), undefined)
  })

  it('a relay\'s STUN server answers at its alternate port too', async () => {
    const server = new StunServer({ port: 0, alternatePort: 0, hosts: ['127.0.0.1'] })
    await server.start()
    try {
      const [main] = server.status().listening
      assert.ok(main != null)
      await server.stop()
      // bind again at a known port and the port above it
      const port = main.port
      const pair = new StunServer({ port, alternatePort: port + 1, hosts: ['127.0.0.1'] })
      await pair.start()
      try {
        assert.deepEqual(pair.status().listening.map(l => l.port).sort((a, b) => a - b), [port, port + 1])
        const a = await stunBinding({ host: '127.0.0.1', port })
        const b = await stunBinding({ host: '127.0.0.1', port: port + 1 })
        assert.equal(a.address, '127.0.0.1')
        assert.equal(b.address, '127.0.0.1')
      } finally {
        await pair.stop()
      }
    } finally {
      await server.stop()
    }
  })
})
