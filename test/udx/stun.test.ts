/**
 * Issue 15: the UDX socket's public address and UDP mapping come from STUN on that same
 * socket (real STUN servers, src/stun, on loopback); when no source answers, `status` and
 * `burrow doctor` say so in one line.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import UDX from 'udx-native'
import { StunServer } from '../../dist/stun/index.js'
import { checkUdpMapping, DatagramDemux, verdictOf } from '../../dist/udx/index.js'
import { startDaemon, stopAll, burrow, burrowJson, waitFor } from '../helpers/burrow.ts'

describe('UDX: STUN on the node\'s socket', () => {
  const servers: StunServer[] = []
  after(async () => {
    await Promise.all(servers.map(async s => { await s.stop() }))
    await stopAll()
  })

  async function stunAt (host: string): Promise<string> {
    const s = new StunServer({ port: 0, hosts: [host] })
    await s.start()
    servers.push(s)
    return `${host}:${s.port}`
  }

  it('two servers at different IPs seeing the same address: endpoint-independent, and that address is the socket\'s', async () => {
    const a = await stunAt('127.0.0.1')
    const b = await stunAt('127.0.0.2')
    const udx = new UDX()
    const socket = udx.createSocket()
    socket.bind(0, '127.0.0.1')
    const demux = new DatagramDemux(socket)
    try {
      const r = await checkUdpMapping(socket, demux, [a, b])
      assert.equal(r.mapping, 'endpoint-independent', r.reason)
      assert.deepEqual(r.publicAddress, { host: '127.0.0.1', port: socket.address().port })
      assert.equal(r.sources.filter(s => s.mapped != null).length, 2)
      const one = await checkUdpMapping(socket, demux, [a])
      assert.equal(one.mapping, 'unknown')
      assert.match(one.reason, /only one STUN source IP answered/)
    } finally {
      demux.close()
      await socket.close()
    }
  })

  it('different addresses from two servers: endpoint-dependent', () => {
    const v = verdictOf([
      { server: 's1', address: '203.0.113.1', mapped: '198.51.100.7:4001' },
      { server: 's2', address: '203.0.113.2', mapped: '198.51.100.7:61234' }
    ])
    assert.equal(v.mapping, 'endpoint-dependent')
  })

  it('no source answering: status.udp and burrow doctor say so in one line', async () => {
    // a UDP socket that never answers stands for a STUN server that is gone
    const silent = createSocket('udp4')
    await new Promise<void>(resolve => silent.bind(0, '127.0.0.1', resolve))
    try {
      const port = silent.address().port
      const d = await startDaemon('udx-nostun', { args: ['--udp-stun-server', `127.0.0.1:${port}`] })
      const st = await waitFor('the UDP mapping checked', async () => {
        const s = await burrowJson<{ udp: { mapping: string, reason: string, checkedAt: string | null, port: number | null } }>(d.home, ['status'])
        return s.udp.checkedAt != null ? s : undefined
      }, 20_000)
      assert.equal(st.udp.mapping, 'unknown')
      assert.ok(st.udp.port != null && st.udp.port > 0, 'the UDX socket is bound')
      assert.match(st.udp.reason, /^no STUN source answered \(1 asked\)/)
      assert.ok(!st.udp.reason.includes('\n'))
      const text = await burrow(d.home, ['doctor'], { timeoutMs: 30_000 })
      assert.match(text.stdout, /^UDX socket: {3}unknown \(socket :\d+\): no STUN source answered/m, text.stdout + text.stderr)
      const status = await burrow(d.home, ['status'])
      assert.match(status.stdout, /^UDP \(UDX\): {5}unknown .*no STUN source answered/m)
    } finally {
      silent.close()
    }
  })
})
