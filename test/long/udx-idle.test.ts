/**
 * The UDP path's acceptance 4: an idle direct UDX connection survives 10 minutes behind
 * routers whose UDP conntrack timeout is 30 s (real routers drop idle UDP mappings after
 * about 30 s; burrow's keepalive runs every 25 s by default).
 *
 * Cone × symmetric over UDX (birthday probing): behind the symmetric NAT an expired mapping
 * cannot come back on the same port, so only the keepalive keeps this connection (cone × cone
 * heals itself: any datagram after the expiry re-creates both mappings on the same ports).
 *
 * A long test: `npm run test:lab` (scripts/test-lab.ts) runs test/long/ beside the other lab
 * tests, so its 10-minute wait costs no wall-clock time of its own. BURROW_UDX_IDLE_MS
 * shortens the wait for a quick look.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { send } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'
import { infra, udxPeer, esc, sleep } from '../udx/lab-helpers.ts'
import type { UdxStatus } from '../udx/lab-helpers.ts'

const IDLE_MS = Number(process.env.BURROW_UDX_IDLE_MS ?? 10 * 60_000)
const skip = skipReason(['conntrack'])

describe('UDX keepalive: an idle direct connection behind 30 s UDP conntrack routers', { skip }, () => {
  let idleLab: Lab | undefined
  let idle: { a: LabNode, b: LabNode, openedAt: string, remoteAddress: string, directAt: number, keepaliveMs: number | null } | undefined

  before(async () => {
    idleLab = await Lab.create({ name: 'udx-idle' })
    const inf = await infra(idleLab)
    const ha = await idleLab.addHome('ia', { nat: 'cone' })
    const hb = await idleLab.addHome('ib', { nat: 'symmetric' })
    for (const r of [ha.router, hb.router]) {
      await r.setConntrackTimeouts({ udpSeconds: 30, udpStreamSeconds: 30 })
      await r.flushConntrack()
    }
    const a = await udxPeer(idleLab, ha.hosts[0]!, inf.relayAddr, inf.stun, 'idle-a')
    const b = await udxPeer(idleLab, hb.hosts[0]!, inf.relayAddr, inf.stun, 'idle-b')
    await a.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation on the stock relay')
    for (const n of [a, b]) await n.waitForStatus(s => (s as unknown as UdxStatus).udp.checkedAt != null, 20_000, 'the UDP mapping checked by STUN')
    await b.cliJson(['dial', `${inf.relayAddr}/p2p-circuit/p2p/${a.peerId}`], { timeoutMs: 30_000 })
    const st = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 30_000, 'the direct UDX connection to A') as unknown as UdxStatus
    const conn = st.connections.find(c => c.peerId === a.peerId && c.direct)!
    assert.match(conn.remoteAddress, new RegExp(`^/ip4/${esc(ha.router.wanIp)}/udp/\\d+/x-burrow-udx/`))
    const rec = st.udp.attempts.find(x => x.peer === a.peerId && x.outcome === 'direct')
    idle = { a, b, openedAt: conn.openedAt, remoteAddress: conn.remoteAddress, directAt: Date.now(), keepaliveMs: rec?.keepaliveMs ?? null }
  })

  after(async () => {
    await idleLab?.teardown()
  })

  it('idle keepalive: a direct UDX connection (cone × symmetric) behind 30 s UDP conntrack routers is still open and used after 10 minutes', async (t) => {
    assert.ok(idle != null)
    const left = idle.directAt + IDLE_MS - Date.now()
    t.diagnostic(`idle: direct since ${new Date(idle.directAt).toISOString()} (keepalive ${idle.keepaliveMs ?? '?'} ms); sleeping the remaining ${Math.max(0, Math.round(left / 1000))} s`)
    if (left > 0) await sleep(left)
    const st = await idle.b.status() as unknown as UdxStatus
    const conn = st.connections.find(c => c.peerId === idle!.a.peerId && c.direct)
    assert.ok(conn != null, `the direct connection is still open after ${Math.round((Date.now() - idle.directAt) / 1000)} s: ${JSON.stringify(st.connections)}`)
    assert.equal(conn.openedAt, idle.openedAt, 'the same connection (same openedAt), not a new punch')
    assert.equal(conn.remoteAddress, idle.remoteAddress)
    const msg = await send(idle.b, idle.a.peerId, 'after 10 minutes idle')
    assert.equal(msg.via, 'direct', 'a message sent now goes direct')
    t.diagnostic(`the same direct UDX connection open and used after ${Math.round((Date.now() - idle.directAt) / 1000)} s behind 30 s UDP conntrack`)
  })
})
