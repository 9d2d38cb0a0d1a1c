/**
 * Issue 4, acceptance 6: a hole-punched connection stays up for 5 minutes idle while
 * both routers forget idle TCP flows after 30 s. burrow's keepalive (a ping every
 * `keepaliveSeconds`, 15 s by default) is what keeps the NAT mappings open.
 * BURROW_KEEPALIVE_IDLE_S shortens the idle period for a quick local run.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, statusOf, send, sleep, debugEnv } from './helpers.ts'
import type { LabNode } from './helpers.ts'

const IDLE_S = Number(process.env.BURROW_KEEPALIVE_IDLE_S ?? 300)
const skip = skipReason()

describe('keepalive through short NAT timeouts', { skip }, () => {
  let lab: Lab
  const nodes: LabNode[] = []

  before(async () => { lab = await Lab.create({ name: 'keepalive' }) })
  after(async () => { await lab?.teardown() })

  it(`a direct connection stays up ${IDLE_S} s idle with conntrack timeouts of 30 s`, async () => {
    const relay = await startBurrow(lab, await lab.addPublicHost('relay'), { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    const ha = await lab.addHome('a', { nat: 'cone' })
    const hb = await lab.addHome('b', { nat: 'cone' })
    for (const r of [ha.router, hb.router]) await r.setConntrackTimeouts({ tcpEstablishedSeconds: 30, udpSeconds: 30, udpStreamSeconds: 30 })
    const a = await startPeer(lab, ha.hosts[0]!, [relay.multiaddr], 'a')
    const b = await startPeer(lab, hb.hosts[0]!, [relay.multiaddr], 'b')
    nodes.push(a, b)
    await waitReachableByPeerId(a)
    await send(b, a.peerId, 'hello')
    const before = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 30_000, 'a direct connection')
    const conn = before.connections.find(c => c.peerId === a.peerId && c.direct)!

    await sleep(IDLE_S * 1000)

    const later = await statusOf(b)
    const still = later.connections.find(c => c.peerId === a.peerId && c.direct && c.remoteAddress === conn.remoteAddress)
    assert.ok(still != null, `the direct connection ${conn.remoteAddress} is still open after ${IDLE_S} s`)
    assert.equal((await send(b, a.peerId, 'still there')).via, 'direct')
    // and the routers still track the flow: the keepalive kept it from expiring
    const flows = await ha.router.flowsBetween(ha.router.wanIp, hb.router.wanIp)
    assert.ok(flows.some(f => f.protocol === 'tcp' && f.state === 'ESTABLISHED'))
  })
})
