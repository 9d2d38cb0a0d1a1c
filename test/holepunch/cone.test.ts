/**
 * Cone × cone over TCP. B knows only A's PeerId: it finds A
 * through the DHT (A is private: its rendezvous record), a message is acknowledged over
 * the relay, then the connection becomes direct by hole punching — conntrack on both
 * routers shows the flow between their WAN addresses — and later messages use it.
 * 5 trials here (BURROW_PUNCH_TRIALS=20 for the full count; `npm run bench` runs 20 per
 * delay in time-to-direct): one lab, relay and A stay up; every trial is a fresh B (new
 * PeerId, new dial port) started, punched and stopped.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, statusOf, send, sleep, debugEnv } from './helpers.ts'
import type { LabNode, Attempt } from './helpers.ts'

const TRIALS = Number(process.env.BURROW_PUNCH_TRIALS ?? 5)
const skip = skipReason()

describe('hole punching: cone × cone over TCP', { skip }, () => {
  let lab: Lab
  let relay: LabNode
  let a: LabNode
  let home: { a: Awaited<ReturnType<Lab['addHome']>>, b: Awaited<ReturnType<Lab['addHome']>> }

  before(async () => {
    lab = await Lab.create({ name: 'punch-cone' })
    const relayHost = await lab.addPublicHost('relay')
    home = { a: await lab.addHome('a', { nat: 'cone' }), b: await lab.addHome('b', { nat: 'cone' }) }
    relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    a = await startPeer(lab, home.a.hosts[0]!, [relay.multiaddr], 'a')
    await waitReachableByPeerId(a)
  })
  after(async () => { await lab?.teardown() })

  it(`B finds A by PeerId, messages over the relay, then goes direct: ${TRIALS} of ${TRIALS}`, async () => {
    const outcomes: string[] = []
    let relayedFirst = 0
    for (let trial = 1; trial <= TRIALS; trial++) {
      const b = await startPeer(lab, home.b.hosts[0]!, [relay.multiaddr], `b${trial}`)
      try {
        await b.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation')
        const found = await b.cliJson<{ addresses: string[], source: string }>(['find', a.peerId], { timeoutMs: 60_000 })
        assert.ok(found.addresses.some(x => x.includes('/p2p-circuit')), `trial ${trial}: A is found with its relay address`)

        // the message is acknowledged whatever the path; the punch may already have won the
        // race by then (the relayed connection opens as soon as B reaches A)
        const first = await send(b, a.peerId, `first ${trial}`)
        assert.ok(['relayed', 'direct'].includes(first.via))
        if (first.via === 'relayed') relayedFirst++

        const direct = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 20_000, 'a direct connection to A')
        // it came from a relayed connection upgraded by DCUtR, not from some direct dial
        assert.ok(direct.holePunch.attempts.some(x => x.peer === a.peerId && x.outcome === 'direct'), `trial ${trial}: B recorded the hole punch`)
        // both ends are burrow: both CONNECTs asked for the fast upgrade, and B took it
        const bWon = (direct.holePunch.attempts as unknown as Attempt[]).filter(x => x.peer === a.peerId && x.outcome === 'direct')
        assert.ok(bWon.every(x => x.upgrade === 'fast'), `trial ${trial}: B upgraded the punched connection the fast way: ${JSON.stringify(bWon)}`)
        assert.ok(!direct.connections.some(c => c.peerId === a.peerId && c.remoteAddress.includes('192.168.')), `trial ${trial}: no LAN address used`)
        const conn = direct.connections.find(c => c.peerId === a.peerId && c.direct)
        assert.match(conn?.remoteAddress ?? '', new RegExp(`^/ip4/${home.a.router.wanIp.replace(/\./g, '\\.')}/tcp/`), `trial ${trial}: direct to A's WAN address`)

        // the routers saw the punched flow between the two WAN addresses, established —
        // this trial's flow: it involves B's public port (B's dial port mapped by its NAT)
        const bPort = Number((direct as unknown as { addresses: { observed: string[] } }).addresses.observed[0]?.split('/tcp/')[1])
        for (const router of [home.a.router, home.b.router]) {
          const flows = await router.flowsBetween(home.a.router.wanIp, home.b.router.wanIp)
          const ours = flows.filter(f => f.protocol === 'tcp' && f.state === 'ESTABLISHED' &&
            [f.orig.sport, f.orig.dport, f.reply.sport, f.reply.dport].includes(bPort))
          assert.ok(ours.length > 0, `trial ${trial}: conntrack on ${router.ns} shows the direct flow (B's public port ${bPort}): ${JSON.stringify(flows)}`)
        }

        const later = await send(b, a.peerId, `direct ${trial}`)
        // messages over the relay are covered where no punch can succeed (symmetric.test.ts)
        assert.equal(later.via, 'direct', `trial ${trial}: later messages use the direct connection`)
        outcomes.push('direct')
      } finally {
        await b.stop()
      }
    }
    assert.equal(outcomes.length, TRIALS)
    console.log(`# ${TRIALS}/${TRIALS} direct; the first message went over the relay in ${relayedFirst} trials (the punch won the race in the others)`)
    const inbox = (await a.cli(['inbox', '--json'])).stdout.trim().split('\n').map(l => JSON.parse(l) as { text: string })
    for (let trial = 1; trial <= TRIALS; trial++) {
      assert.equal(inbox.filter(m => m.text === `first ${trial}`).length, 1)
      assert.equal(inbox.filter(m => m.text === `direct ${trial}`).length, 1)
    }
    await sleep(0)
    const st = await statusOf(a)
    assert.equal(st.reservations.length >= 1, true, 'A kept its reservation through all trials')
    // A started each exchange (the inbound side of the relayed connection): each successful
    // attempt's record says where its time went, phase by phase
    const attempts = st.holePunch.attempts as unknown as Array<{ role: string, outcome: string, startedAt: string, upgrade?: string, handshake?: string, phases?: Record<string, unknown> }>
    const won = attempts.filter(x => x.role === 'initiator' && x.outcome === 'direct')
    assert.ok(won.length > 0, 'A recorded the attempts it started')
    for (const x of won) {
      for (const k of ['streamMs', 'connectRttMs', 'syncWaitMs', 'openMs', 'upgradeMs', 'secureMs', 'muxMs'] as const) {
        assert.equal(typeof x.phases?.[k], 'number', `attempt ${x.startedAt}: phase ${k} recorded (${JSON.stringify(x.phases)})`)
      }
      assert.equal(x.upgrade, 'fast', `attempt ${x.startedAt}: A upgraded the punched connection the fast way too (both ends decide alike)`)
      assert.equal(x.handshake, 'initiator', `attempt ${x.startedAt}: on the fast upgrade A (the DCUtR initiator, which dials second) is the Noise initiator`)
    }
  })
})
