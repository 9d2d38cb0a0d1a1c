/**
 * Issue 11, acceptance 1 (lab part): in the cone × cone lab, B runs with
 * `--metrics 127.0.0.1:0`; after B reaches A over the relay and the connection becomes
 * direct by hole punching, B's /metrics shows the hole-punch counter and the
 * relayed → direct histogram moved. One trial. The metrics port is inside B's namespace,
 * so the scrape runs there (a short node script via the lab's exec); the lab and every
 * process in it are removed in after(), by the lab's teardown.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, send, debugEnv } from '../holepunch/helpers.ts'
import { parsePrometheusText, valueOf } from './prom-text.ts'
import type { LabNode } from '../holepunch/helpers.ts'
import type { Family } from './prom-text.ts'

const skip = skipReason()

/** GET url from inside the node's namespace; the body on stdout. */
const FETCH_SCRIPT = "fetch(process.argv[1],{signal:AbortSignal.timeout(10000)}).then(async r=>{if(r.status!==200)throw new Error('status '+r.status);process.stdout.write(await r.text())}).catch(e=>{console.error(String(e));process.exit(1)})"

async function scrapeIn (node: LabNode): Promise<Map<string, Family>> {
  const url = (await node.process.waitForOutput(/^metrics: Prometheus text at (http:\/\/\S+\/metrics)/m, 30_000))[1] ?? ''
  const r = await node.host.exec(process.execPath, ['-e', FETCH_SCRIPT, url], { timeoutMs: 30_000 })
  assert.equal(r.code, 0, `scrape of ${url} in ${node.host.name}: ${r.stderr}`)
  return parsePrometheusText(r.stdout)
}

describe('metrics in the lab: cone × cone', { skip }, () => {
  let lab: Lab

  before(async () => {
    lab = await Lab.create({ name: 'metrics-cone' })
  })
  after(async () => { await lab?.teardown() })

  it('the hole-punch counter and the relayed → direct histogram move when B goes direct to A', async () => {
    const relayHost = await lab.addPublicHost('relay')
    const home = { a: await lab.addHome('a', { nat: 'cone' }), b: await lab.addHome('b', { nat: 'cone' }) }
    const relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    const a = await startPeer(lab, home.a.hosts[0]!, [relay.multiaddr], 'a')
    await waitReachableByPeerId(a)
    const b = await startPeer(lab, home.b.hosts[0]!, [relay.multiaddr], 'b', ['--metrics', '127.0.0.1:0'])
    await b.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation')

    const before = await scrapeIn(b)
    const directBefore = valueOf(before, 'burrow_holepunch_attempts_total', { method: 'tcp', outcome: 'direct' })
    assert.equal(directBefore, 0)
    assert.equal(valueOf(before, 'burrow_relayed_to_direct_seconds_count', { method: 'tcp' }) ?? 0, 0)
    assert.equal(valueOf(before, 'burrow_relay_reservations_held'), 1)
    assert.equal(valueOf(before, 'burrow_reachability', { state: 'public' }), 0, 'B behind its cone NAT is not public')

    await b.cliJson(['find', a.peerId], { timeoutMs: 60_000 })
    await send(b, a.peerId, 'over the relay, then direct')
    const direct = await b.waitForStatus(s => s.connections.some(c => c.peerId === a.peerId && c.direct), 30_000, 'a direct connection to A')
    const punched = direct.holePunch.attempts.filter(x => x.peer === a.peerId && x.outcome === 'direct')
    assert.ok(punched.length >= 1, 'B recorded the hole punch')

    const later = await scrapeIn(b)
    assert.equal(valueOf(later, 'burrow_holepunch_attempts_total', { method: 'tcp', outcome: 'direct' }), punched.length)
    assert.equal(valueOf(later, 'burrow_relayed_to_direct_seconds_count', { method: 'tcp' }), punched.length)
    const seconds = valueOf(later, 'burrow_relayed_to_direct_seconds_sum', { method: 'tcp' }) ?? -1
    assert.ok(seconds > 0, `the histogram holds the relayed → direct time (${seconds} s)`)
    assert.ok((valueOf(later, 'burrow_messages_acked_total') ?? 0) >= 1)
    console.log(`# relayed → direct in ${seconds.toFixed(3)} s (B's histogram sum, ${punched.length} punch)`)
  })
})
