/**
 * Issue 4, acceptance 2: cone × cone over the UDP punch path (WebRTC private-to-private,
 * STUN from the relay), TCP hole punching off on both peers (`--punch webrtc`). B knows only
 * A's PeerId: it finds A, a message is acknowledged over the relay, then the connection
 * becomes direct over UDP — a non-relayed `/webrtc` connection, a UDP flow between the two
 * WAN addresses in conntrack on both routers — and later messages use it.
 * One lab, relay and A for all trials; each trial is a fresh B (new home, new PeerId).
 * Then the time relayed → direct again with 25 ms one-way delay on each WAN link.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import type { Flow, Home } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'

type LabNode = Awaited<ReturnType<typeof startBurrow>>

interface Status {
  reservations: unknown[]
  connections: Array<{ peerId: string, direct: boolean, remoteAddress: string }>
  udpPunch: { enabled: boolean, stunServers: string[], attempts: Array<{ peer: string, outcome: string, sinceRelayedMs: number, durationMs: number, detail: string }>, stunServer: { answered: number } | null }
}

const TRIALS = Number(process.env.BURROW_UDP_TRIALS ?? 20)
const DELAYED_TRIALS = Number(process.env.BURROW_UDP_DELAYED_TRIALS ?? 5)
const skip = skipReason()

/** BURROW_TEST_DEBUG=burrow:*,libp2p:webrtc* puts the daemons' debug logs into the lab's log folder. */
function debugEnv (): Record<string, string> {
  const d = process.env.BURROW_TEST_DEBUG
  return d != null && d !== '' ? { DEBUG: d } : {}
}

async function startPeer (lab: Lab, home: Home, bootstrap: string[], name: string): Promise<LabNode> {
  const host = home.hosts[0]
  assert.ok(host !== undefined)
  const dir = mkdtempSync(join(lab.runDir, `${name}-`))
  return startBurrow(lab, host, { home: dir, bootstrap, logName: `${name}-${dir.slice(-6)}`, args: ['--dht-mode', 'client', '--punch', 'webrtc'], env: debugEnv() })
}

async function status (node: LabNode): Promise<Status> {
  return await node.status() as unknown as Status
}

const flowKey = (f: Flow): string => JSON.stringify([f.protocol, f.orig, f.reply])
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2
}

describe('UDP punch path (WebRTC, STUN on the relay): cone × cone, TCP hole punching off', { skip }, () => {
  let lab: Lab
  let relay: LabNode
  let a: LabNode
  let homeA: Home
  let homeB: Home

  before(async () => {
    lab = await Lab.create({ name: 'udp-punch' })
    const relayHost = await lab.addPublicHost('relay')
    homeA = await lab.addHome('a', { nat: 'cone' })
    homeB = await lab.addHome('b', { nat: 'cone' })
    relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    a = await startPeer(lab, homeA, [relay.multiaddr], 'a')
    await a.waitForStatus(s => s.reservations.length > 0, 30_000, 'a reservation')
  })
  after(async () => { await lab?.teardown() })

  /** One trial with a fresh B; resolves with the time relayed → direct (ms). */
  async function trial (n: number): Promise<number> {
    const b = await startPeer(lab, homeB, [relay.multiaddr], `b${n}`)
    try {
      const st0 = await status(b)
      assert.deepEqual(st0.udpPunch.stunServers, [`stun:${relay.host.ip}:3478`], 'B uses the relay\'s STUN server and no other')
      const udpBefore = new Set<string>()
      for (const r of [homeA.router, homeB.router]) {
        for (const f of await r.flowsBetween(homeA.router.wanIp, homeB.router.wanIp)) udpBefore.add(`${r.ns} ${flowKey(f)}`)
      }

      // B knows only A's PeerId: `send` looks A up (the relay answers the DHT query with A's
      // relay addresses), dials it through the relay and is acknowledged over that connection
      // while ICE still runs (a `find` first would already open the relayed connection: its
      // DHT query dials A, and the upgrade would often win the race against the next command)
      const first = await b.cliJson<{ via: string }>(['send', a.peerId, `first ${n}`], { timeoutMs: 60_000 })
      assert.equal(first.via, 'relayed', `trial ${n}: the first message is acknowledged over the relay`)
      const found = await b.cliJson<{ addresses: string[] }>(['find', a.peerId], { timeoutMs: 40_000 })
      assert.ok(found.addresses.some(x => x.includes('/p2p-circuit')), `trial ${n}: A is found with its relay address`)
      assert.ok(!found.addresses.some(x => x.includes('/webrtc')), `trial ${n}: A announces no /webrtc address (a first dial takes the relay)`)

      const st = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 20_000, 'a direct connection to A') as unknown as Status
      const conn = st.connections.find(c => c.peerId === a.peerId && c.direct)
      assert.match(conn?.remoteAddress ?? '', /\/p2p-circuit\/webrtc\/p2p\//, `trial ${n}: the direct connection is WebRTC`)
      const attempt = st.udpPunch.attempts.find(x => x.peer === a.peerId && x.outcome === 'direct')
      assert.ok(attempt !== undefined, `trial ${n}: B recorded the UDP punch`)

      for (const r of [homeA.router, homeB.router]) {
        const flows = await r.flowsBetween(homeA.router.wanIp, homeB.router.wanIp)
        const fresh = flows.filter(f => f.protocol === 'udp' && !udpBefore.has(`${r.ns} ${flowKey(f)}`))
        assert.ok(fresh.length > 0, `trial ${n}: conntrack on ${r.ns} shows a new UDP flow between the WAN addresses: ${JSON.stringify(flows)}`)
      }

      const later = await b.cliJson<{ via: string }>(['send', a.peerId, `direct ${n}`], { timeoutMs: 30_000 })
      assert.equal(later.via, 'direct', `trial ${n}: later messages use the direct connection`)
      return attempt.sinceRelayedMs
    } finally {
      await b.stop()
    }
  }

  it(`B finds A by PeerId, messages over the relay, then goes direct over UDP: ${TRIALS} of ${TRIALS}`, async (t) => {
    const times: number[] = []
    const failures: string[] = []
    for (let n = 1; n <= TRIALS; n++) {
      try {
        times.push(await trial(n))
      } catch (err) {
        failures.push(`trial ${n}: ${(err as Error).message}`)
      }
    }
    t.diagnostic(`0 ms delay: ${times.length}/${TRIALS} direct over UDP; relayed → direct median ${median(times)} ms (min ${Math.min(...times)}, max ${Math.max(...times)}); logs ${lab.logDir}`)
    assert.deepEqual(failures, [])
    const st = await a.status()
    assert.ok(st.reservations.length > 0, 'A kept its reservation through all trials')
    const rs = await relay.status() as unknown as Status
    assert.ok((rs.udpPunch.stunServer?.answered ?? 0) > 0, 'the relay\'s STUN server answered')
  })

  it(`the same with 25 ms one-way delay on each WAN link: ${DELAYED_TRIALS} of ${DELAYED_TRIALS}`, { skip: DELAYED_TRIALS <= 0 }, async (t) => {
    await homeA.router.setDelay(25)
    await homeB.router.setDelay(25)
    try {
      const times: number[] = []
      const failures: string[] = []
      for (let n = 1; n <= DELAYED_TRIALS; n++) {
        try {
          times.push(await trial(100 + n))
        } catch (err) {
          failures.push(`trial ${n}: ${(err as Error).message}`)
        }
      }
      t.diagnostic(`25 ms delay: ${times.length}/${DELAYED_TRIALS} direct over UDP; relayed → direct median ${median(times)} ms (min ${Math.min(...times)}, max ${Math.max(...times)})`)
      for (const f of failures) t.diagnostic(f)
      // the acceptance (20 of 20) is the 0 ms case above; with delay, the UDP success rate is
      // a measured figure (npm run bench reports it per delay), so this asserts the path works
      assert.ok(times.length >= 1, `no UDP upgrade with 25 ms delay: ${failures.join('; ')}`)
    } finally {
      await homeA.router.setDelay(0)
      await homeB.router.setDelay(0)
    }
  })
})
