/**
 * Issue 4, acceptance 3–5, in one lab with three relays:
 * - cone × symmetric and symmetric × symmetric: messages flow over the relay, status
 *   says why there is no direct path, reservations stay, no busy retry loop;
 * - two hosts behind one router connect over their LAN, not through a relay;
 * - a relay dies: the private node stays reachable by PeerId through its other
 *   reservation within 10 s and makes a new second one.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, statusOf, send, sleep, debugEnv } from './helpers.ts'
import type { LabNode, Status } from './helpers.ts'

const skip = skipReason()

describe('paths that cannot be punched, LAN peers, relay failover', { skip }, () => {
  let lab: Lab
  let relays: LabNode[]
  let bootstrap: string[]

  before(async () => {
    lab = await Lab.create({ name: 'punch-paths' })
    const hosts = [await lab.addPublicHost('relay1'), await lab.addPublicHost('relay2'), await lab.addPublicHost('relay3')]
    relays = []
    for (const [i, h] of hosts.entries()) {
      relays.push(await startBurrow(lab, h, { args: ['--relay-server', 'on'], logName: `relay${i + 1}`, env: debugEnv(), ...(i > 0 ? { bootstrap: [relays[0]!.multiaddr] } : {}) }))
    }
    bootstrap = relays.map(r => r.multiaddr)
  })
  after(async () => { await lab?.teardown() })

  for (const [i, [kindA, kindB]] of ([['cone', 'symmetric'], ['symmetric', 'symmetric']] as const).entries()) {
    it(`${kindA} × ${kindB}: messages flow over the relay, and status says why there is no direct path`, async () => {
      const ha = await lab.addHome(`p${i}a`, { nat: kindA })
      const hb = await lab.addHome(`p${i}b`, { nat: kindB })
      const a = await startPeer(lab, ha.hosts[0]!, bootstrap, `${kindA}-a`)
      const b = await startPeer(lab, hb.hosts[0]!, bootstrap, `${kindB}-b`)
      try {
        await waitReachableByPeerId(a)
        await b.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation')
        for (let i = 1; i <= 3; i++) {
          const r = await send(b, a.peerId, `over the relay ${i}`)
          assert.equal(r.via, 'relayed')
        }
        // both ends gave up after their attempts and say why
        const sa = await a.waitForStatus(s => s.connections.some(c => c.peerId === b.peerId && c.whyRelayed != null && /NAT/.test(c.whyRelayed)), 40_000, 'a reason for the relayed connection') as unknown as Status
        const reason = sa.connections.find(c => c.peerId === b.peerId)?.whyRelayed ?? ''
        assert.match(reason, /symmetric|hole punch attempts failed/)
        const attemptsBefore = sa.holePunch.attempts.filter(x => x.peer === b.peerId).length
        assert.ok(attemptsBefore <= 3, `at most 3 attempts, saw ${attemptsBefore}`)

        // no busy retry loop: 15 s later no new attempts, the relayed path still works, reservations kept
        await sleep(15_000)
        const later = await statusOf(a)
        assert.equal(later.holePunch.attempts.filter(x => x.peer === b.peerId).length, attemptsBefore)
        assert.ok(later.reservations.length >= 1, 'A kept its reservation')
        assert.ok((await statusOf(b)).reservations.length >= 1, 'B kept its reservation')
        assert.equal((await send(b, a.peerId, 'still over the relay')).via, 'relayed')
        const inbox = (await a.cli(['inbox', '--json'])).stdout.trim().split('\n').map(l => JSON.parse(l) as { text: string })
        assert.equal(inbox.length, 4, 'every message arrived once')
        assert.equal(a.process.running && b.process.running, true, 'no crash')
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    })
  }

  it('two hosts behind one router connect over the LAN, not through the relay', async () => {
    const home = await lab.addHome('lan', { nat: 'cone', hosts: 2 })
    const a = await startPeer(lab, home.hosts[0]!, bootstrap, 'lan-a')
    const b = await startPeer(lab, home.hosts[1]!, bootstrap, 'lan-b')
    try {
      await waitReachableByPeerId(a)
      const dial = await b.cliJson<{ direct: boolean, remoteAddress: string }>(['dial', a.peerId], { timeoutMs: 60_000 })
      assert.equal(dial.direct, true)
      assert.match(dial.remoteAddress, new RegExp(`^/ip4/${home.hosts[0]!.ip.replace(/\./g, '\\.')}/tcp/`), 'dialed A at its LAN address')
      assert.equal((await send(b, a.peerId, 'over the LAN')).via, 'direct')
      // nothing between the two went out through the router
      const flows = await home.router.flows()
      assert.ok(!flows.some(f => f.orig.src === home.hosts[1]!.ip && f.orig.dst === home.router.wanIp), 'no hairpin through the router')
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('a relay dies: A stays reachable by PeerId through its other reservation within 10 s, and reserves again', async () => {
    const ha = await lab.addHome('fa', { nat: 'symmetric' })
    const hb = await lab.addHome('fb', { nat: 'symmetric' })
    const a = await startPeer(lab, ha.hosts[0]!, bootstrap, 'failover-a')
    const b = await startPeer(lab, hb.hosts[0]!, bootstrap, 'failover-b')
    try {
      const before = await waitReachableByPeerId(a, 2)
      const held = before.reservations.map(r => r.relay)
      const victim = relays.find(r => r.peerId === held[0])
      assert.ok(victim != null, 'A holds a reservation on one of the lab relays')
      victim.process.signal('SIGKILL')
      const killedAt = Date.now()

      // B reaches A by PeerId through the surviving relay
      const r = await send(b, a.peerId, 'after the relay died')
      const elapsed = Date.now() - killedAt
      assert.equal(r.via, 'relayed')
      assert.ok(elapsed <= 10_000, `reachable again after ${elapsed} ms`)

      // A replaces the lost reservation with one on the third relay
      const after = await a.waitForStatus(s => s.reservations.length >= 2 && !s.reservations.some(x => x.relay === victim.peerId), 30_000, 'a new second reservation') as unknown as Status
      assert.ok(after.reservations.some(x => x.relay !== held[1] && x.relay !== held[0]), 'the new reservation is on another relay')
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })
})
