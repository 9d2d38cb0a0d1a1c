/**
 * Issue 15, acceptance 1 and 3, over the UDX path with a stock js-libp2p relay (no STUN on
 * it) and two STUN servers elsewhere in the lab (burrow's src/stun server as plain
 * processes on two public hosts: two IPs tell the NAT's UDP mapping).
 * - cone × cone at 0 and 25 ms one-way, 3 trials each, fresh homes and nodes per trial:
 *   B dials A through the relay, the UDX punch makes it direct, later messages say
 *   `via: direct`, and both routers' conntrack shows the UDP flow between the WAN addresses.
 * - symmetric × symmetric: stays relayed, no datagram between the two WAN addresses,
 *   `whyRelayed` names both NATs, messages flow over the relay.
 * `--punch udx` on both peers, so the TCP punch cannot be what went direct.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab } from '../../lab/dist/index.js'
import type { LabHost } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, startSpec, send } from '../holepunch/helpers.ts'
import type { LabNode, SpecProc } from '../holepunch/helpers.ts'
import { startStun, STUN_PORT } from './lab-helpers.ts'

const TRIALS = Number(process.env.BURROW_UDX_TRIALS ?? 3)
const skip = skipReason()

interface UdxStatus {
  udp: { mapping: string, reason: string, publicAddress: string | null, checkedAt: string | null, attempts: Array<{ peer: string, method: string, outcome: string, detail: string, probes: number, sockets: number, ms: number, fireMs?: number, rttMs: number | null, keepaliveMs: number | null }> }
  reservations: unknown[]
  connections: Array<{ peerId: string, direct: boolean, remoteAddress: string, whyRelayed?: string }>
}

describe('UDX path: cone × cone direct, symmetric × symmetric relayed (stock relay, lab STUN)', { skip }, () => {
  let lab: Lab
  let relay: SpecProc
  let relayAddr: string
  let stun: string[]
  const figures: string[] = []

  before(async () => {
    lab = await Lab.create({ name: 'udx-cone' })
    const relayHost = await lab.addPublicHost('relay')
    const s1 = await lab.addPublicHost('stun1')
    const s2 = await lab.addPublicHost('stun2')
    await startStun(s1)
    await startStun(s2)
    stun = [`${s1.ip}:${STUN_PORT}`, `${s2.ip}:${STUN_PORT}`]
    relay = await startSpec(lab, relayHost, 'relay', ['--serve-relay', '--dial-port', '0'])
    relayAddr = `/ip4/${relayHost.ip}/tcp/4001/p2p/${relay.peerId}`
  })
  after(async () => {
    if (figures.length > 0) console.log(`# UDX dial → direct: ${figures.join('; ')}`)
    await lab?.teardown()
  })

  async function peer (host: LabHost, name: string): Promise<LabNode> {
    return startPeer(lab, host, [relayAddr], name, ['--punch', 'udx', ...stun.flatMap(s => ['--udp-stun-server', s])])
  }

  type Router = Awaited<ReturnType<Lab['addHome']>>['router']
  async function pair (tag: string, nat: 'cone' | 'symmetric', delayMs: number): Promise<{ a: LabNode, b: LabNode, aWan: string, bWan: string, routers: Router[] }> {
    const ha = await lab.addHome(`a${tag}`, { nat, delayMs })
    const hb = await lab.addHome(`b${tag}`, { nat, delayMs })
    const a = await peer(ha.hosts[0]!, `a${tag}`)
    const b = await peer(hb.hosts[0]!, `b${tag}`)
    await a.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation on the stock relay')
    for (const n of [a, b]) await n.waitForStatus(s => (s as unknown as UdxStatus).udp.checkedAt != null, 20_000, 'the UDP mapping checked by STUN')
    return { a, b, aWan: ha.router.wanIp, bWan: hb.router.wanIp, routers: [ha.router, hb.router] }
  }

  for (const delayMs of [0, 25]) {
    it(`cone × cone at ${delayMs} ms one-way: ${TRIALS} of ${TRIALS} direct over UDX`, async () => {
      for (let trial = 1; trial <= TRIALS; trial++) {
        const { a, b, aWan, bWan, routers } = await pair(`c${delayMs}t${trial}`, 'cone', delayMs)
        try {
          for (const n of [a, b]) {
            const st = await n.status() as unknown as UdxStatus
            assert.equal(st.udp.mapping, 'endpoint-independent', `trial ${trial}: the cone NAT's UDP mapping is endpoint-independent: ${st.udp.reason}`)
          }
          const started = Date.now()
          await b.cliJson(['dial', `${relayAddr}/p2p-circuit/p2p/${a.peerId}`], { timeoutMs: 30_000 })
          const direct = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 20_000, 'a direct UDX connection to A') as unknown as UdxStatus
          const ms = Date.now() - started
          const conn = direct.connections.find(c => c.peerId === a.peerId && c.direct)
          assert.match(conn?.remoteAddress ?? '', new RegExp(`^/ip4/${aWan.replace(/\./g, '\\.')}/udp/\\d+/x-burrow-udx/p2p/`), `trial ${trial}: direct to A's WAN address over UDX`)
          const rec = direct.udp.attempts.find(x => x.peer === a.peerId && x.outcome === 'direct')
          assert.ok(rec != null, `trial ${trial}: B recorded the UDX punch: ${JSON.stringify(direct.udp.attempts)}`)
          assert.equal(rec.method, 'direct')
          assert.equal(rec.probes, 0)
          figures.push(`${delayMs} ms t${trial}: ${ms} ms from the CLI dial (punch ${rec.ms} ms from the relayed connection, of it ${rec.fireMs ?? '?'} ms from firing; relay RTT ${rec.rttMs ?? '?'} ms)`)
          assert.equal(rec.keepaliveMs, 25_000, 'keepalive: the smaller of both asks (both the 25 s default)')

          // both routers saw the punched UDP flow between the two WAN addresses
          for (const router of routers) {
            const flows = await router.flowsBetween(aWan, bWan)
            assert.ok(flows.some(f => f.protocol === 'udp'), `trial ${trial}: conntrack on ${router.ns} shows the UDP flow between ${aWan} and ${bWan}: ${JSON.stringify(flows)}`)
          }
          const later = await send(b, a.peerId, `direct ${trial}`)
          assert.equal(later.via, 'direct', `trial ${trial}: later messages use the direct connection`)
        } finally {
          await b.stop()
          await a.stop()
        }
      }
    })
  }

  it('symmetric × symmetric: relayed, no datagram between the WAN addresses, whyRelayed names both NATs, messages flow', async () => {
    const { a, b, aWan, bWan, routers } = await pair('s', 'symmetric', 0)
    try {
      for (const n of [a, b]) {
        const st = await n.status() as unknown as UdxStatus
        assert.equal(st.udp.mapping, 'endpoint-dependent', `the symmetric NAT's UDP mapping is endpoint-dependent: ${st.udp.reason}`)
      }
      await b.cliJson(['dial', `${relayAddr}/p2p-circuit/p2p/${a.peerId}`], { timeoutMs: 30_000 })
      const st = await b.waitForStatus(s => (s as unknown as UdxStatus).udp.attempts.some(x => x.peer === a.peerId), 20_000, 'the UDX attempt record') as unknown as UdxStatus
      const rec = st.udp.attempts.find(x => x.peer === a.peerId)!
      assert.equal(rec.method, 'none', `no method between two symmetric NATs: ${JSON.stringify(rec)}`)
      assert.equal(rec.outcome, 'skipped')
      assert.equal(rec.probes, 0)
      assert.equal(rec.sockets, 0)
      const first = await send(b, a.peerId, 'over the relay')
      assert.equal(first.via, 'relayed')
      const conn = (await b.status() as unknown as UdxStatus).connections.find(c => c.peerId === a.peerId)
      assert.ok(conn != null && !conn.direct)
      assert.match(conn.whyRelayed ?? '', /both NATs are endpoint-dependent/, `whyRelayed: ${conn.whyRelayed ?? ''}`)
      assert.match(conn.whyRelayed ?? '', /ours and the peer's/)
      for (const router of routers) {
        const flows = await router.flowsBetween(aWan, bWan)
        assert.equal(flows.filter(f => f.protocol === 'udp').length, 0, `no UDP datagram went between the two WAN addresses (${router.ns}): ${JSON.stringify(flows)}`)
      }
    } finally {
      await b.stop()
      await a.stop()
    }
  })
})
