/**
 * Issue 11, acceptance 4 and 5, in one lab: two relays at different public IPs (each
 * `burrow daemon --relay-server on`, so each runs a STUN server), a node behind a cone
 * router offering UPnP and NAT-PMP, one behind a symmetric router offering PCP only, and a
 * second cone node.
 * 4. `burrow doctor --json` measures endpoint-independent behind the cone router and
 *    endpoint-dependent behind the symmetric one, for TCP and UDP, and reports the
 *    protocols each router answers.
 * 5. `burrow ping PEERID` to a private peer known only by its PeerId: found by its
 *    rendezvous record, replies via the relay, then via direct after the hole punch, and
 *    it stops there.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, routerMappings, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, debugEnv } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'
import type { Home } from '../../lab/dist/index.js'
import type { DoctorReport } from '../../dist/doctor/index.js'
import type { PingReply } from '../../dist/node/index.js'

const skip = skipReason(['miniupnpd'])

describe('burrow doctor and ping in the lab', { skip }, () => {
  let lab: Lab
  let r1: LabNode
  let r2: LabNode
  let cone: LabNode
  let sym: LabNode
  let other: LabNode
  let homes: Record<'cone' | 'sym' | 'other', Home>

  before(async () => {
    lab = await Lab.create({ name: 'doctor' })
    const [h1, h2] = [await lab.addPublicHost('r1'), await lab.addPublicHost('r2')]
    homes = {
      cone: await lab.addHome('cone', { nat: 'cone', portMapping: { upnp: true, natpmp: true, pcp: false } }),
      sym: await lab.addHome('sym', { nat: 'symmetric', portMapping: { upnp: false, natpmp: false, pcp: true } }),
      other: await lab.addHome('other', { nat: 'cone' })
    }
    r1 = await startBurrow(lab, h1, { args: ['--relay-server', 'on'], logName: 'r1', env: debugEnv() })
    r2 = await startBurrow(lab, h2, { args: ['--relay-server', 'on'], bootstrap: [r1.multiaddr], logName: 'r2', env: debugEnv() })
    const relays = [r1.multiaddr, r2.multiaddr]
    // the doctor, not the port mapper, asks the routers: nothing is mapped
    const started = await Promise.all([
      startPeer(lab, homes.cone.hosts[0]!, relays, 'cone', ['--port-mapping', 'off']),
      startPeer(lab, homes.sym.hosts[0]!, relays, 'sym', ['--port-mapping', 'off']),
      startPeer(lab, homes.other.hosts[0]!, relays, 'other', ['--port-mapping', 'off'])
    ])
    ;[cone, sym, other] = started
  })
  after(async () => { await lab?.teardown() })

  async function doctor (node: LabNode): Promise<DoctorReport> {
    // both relays connected (bootstrap), so both can report our address
    await node.waitForStatus(s => [r1, r2].every(r => s.connections.some(c => c.peerId === r.peerId)), 30_000, 'connections to both relays')
    const started = Date.now()
    const report = await node.cliJson<DoctorReport>(['doctor'], { timeoutMs: 60_000 })
    console.log(`# doctor on ${node.host.name}: ${Date.now() - started} ms (report says ${report.durationMs} ms)`)
    return report
  }

  const answered = (r: DoctorReport): string[] => r.gateway.protocols.filter(p => p.answered === 'yes').map(p => p.protocol).sort()

  it('behind a cone router: endpoint-independent for TCP and UDP; the router answers UPnP and NAT-PMP', async () => {
    const r = await doctor(cone)
    assert.equal(r.relays.length >= 2, true, JSON.stringify(r.relays))
    assert.equal(new Set(r.relays.map(x => x.ip)).size >= 2, true, 'relays at two IPs were asked')
    assert.equal(r.tcp.mapping, 'endpoint-independent', r.tcp.detail)
    assert.equal(r.udp.mapping, 'endpoint-independent', r.udp.detail)
    assert.deepEqual(answered(r), ['nat-pmp', 'upnp'], JSON.stringify(r.gateway))
    assert.equal(r.gateway.protocols.find(p => p.protocol === 'pcp')?.answered !== 'yes', true)
    assert.ok(r.relays.every(x => x.rttMs != null && x.rttMs >= 0), 'an RTT to each relay')
    assert.ok(['yes', 'no'].includes(r.hairpin.udp), r.hairpin.detail)
    assert.match(r.verdict, /cone/)
    assert.deepEqual(await routerMappings(homes.cone.router), [], 'the doctor kept no mapping on the router')
    const text = await cone.cli(['doctor'], { timeoutMs: 60_000 })
    console.log(text.stdout.trim().split('\n').map(l => `# ${l}`).join('\n'))
    assert.match(text.stdout, /TCP mapping: {2}endpoint-independent/)
    assert.match(text.stdout, /verdict: /)
  })

  it('behind a symmetric router: endpoint-dependent for TCP and UDP; the router answers PCP only', async () => {
    const r = await doctor(sym)
    assert.equal(r.tcp.mapping, 'endpoint-dependent', r.tcp.detail)
    assert.equal(r.udp.mapping, 'endpoint-dependent', r.udp.detail)
    assert.deepEqual(answered(r), ['pcp'], JSON.stringify(r.gateway))
    assert.match(r.verdict, /symmetric/)
    assert.deepEqual(await routerMappings(homes.sym.router), [], 'the doctor kept no mapping on the router')
  })

  it('ping to a private peer known by PeerId: replies via the relay, then via direct, and stops there', async () => {
    await waitReachableByPeerId(cone)
    const res = await other.cli(['ping', cone.peerId, '--count', '30', '--json'], { timeoutMs: 90_000, allowFailure: true })
    assert.equal(res.code, 0, res.stderr)
    const replies = res.stdout.trim().split('\n').map(l => JSON.parse(l) as PingReply)
    const paths = replies.map(x => x.path)
    console.log(`# ping paths: ${paths.join(' ')}`)
    assert.equal(paths[0], 'relayed', 'the first reply came over the relay')
    assert.ok([r1.peerId, r2.peerId].includes(replies[0]?.via ?? ''), 'a relayed reply names its relay')
    const last = replies[replies.length - 1]
    assert.equal(last?.path, 'direct', 'the path went direct')
    assert.equal(last?.changed, true, 'the direct reply says the path changed')
    assert.equal(replies.filter(x => x.path === 'direct').length, 1, 'ping stopped at the first direct reply')
    const text = await other.cli(['ping', cone.peerId, '--count', '2'], { timeoutMs: 30_000 })
    assert.match(text.stdout, /via direct/)
  })
})
