// Acceptance 2: the delay element (or netem, where the kernel has it) adds the configured delay.
// This is the one timing assertion in the lab suite: it checks the element itself.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, hasNetem } from '../../lab/dist/index.js'
import { jsonWith, skipReason, waitForKey } from './helpers.ts'
import type { Home } from '../../lab/dist/index.js'

const ONE_WAY_MS = 25
const OBSERVER_PORT = 3478

/** Average UDP round trip (ms) from a's host to the observer on b's DMZ host. */
async function averageRtt (lab: Lab, a: Home, b: Home, count: number): Promise<number> {
  const r = await lab.probe(a.hosts[0]!, ['rtt', `${b.router.wanIp}:${OBSERVER_PORT}`, String(count)])
  const avg = jsonWith<number | null>(r.stdout, 'avgMs')
  assert.ok(avg !== null, `round trips came back: ${r.stdout}`)
  return avg
}

describe('delay element', { skip: skipReason(['iptables', 'gcc']) }, () => {
  let lab: Lab
  let a: Home
  let b: Home

  before(async () => {
    lab = await Lab.create({ name: 'delay' })
    a = await lab.addHome('a', { nat: 'cone', delayMs: ONE_WAY_MS })
    // b's host is its router's DMZ host, so a's packets reach its observer through both routers
    b = await lab.addHome('b', { nat: 'none', delayMs: ONE_WAY_MS })
    await waitForKey(await lab.spawnProbe(b.hosts[0]!, ['observe', String(OBSERVER_PORT)]), 'observing')
  })

  after(async () => {
    await lab?.teardown()
  })

  let delayedRtt = 0
  it(`a round trip across two routers at ${ONE_WAY_MS} ms one-way each is delayed at all four WAN crossings`, async (t) => {
    t.diagnostic(`delay by ${await hasNetem(a.router.ns) ? 'netem' : 'the NFQUEUE delay element'}`)
    // a's host → a's WAN link (out) → b's WAN link (in) → b's host, and back the same way
    const rtt = await averageRtt(lab, a, b, 10)
    t.diagnostic(`RTT ${rtt} ms`)
    delayedRtt = rtt
    // a lower bound only: each of the four crossings adds its delay (three would give 75 ms);
    // how much more a busy host adds is the bench's business, not a test's
    assert.ok(rtt >= 0.9 * 4 * ONE_WAY_MS, `RTT ${rtt} ms is at least 90% of 4 × ${ONE_WAY_MS} ms`)
  })

  it('setDelay(0) removes the delay again', async (t) => {
    await a.router.setDelay(0)
    await b.router.setDelay(0)
    const rtt = await averageRtt(lab, a, b, 5)
    t.diagnostic(`RTT ${rtt} ms`)
    assert.ok(rtt < delayedRtt / 2, `RTT ${rtt} ms without delay, ${delayedRtt} ms with`)
  })
})
