/**
 * One IPv6 /64 counts as one address for the relay's reservations (issue 10, acceptance
 * 3): 130 fresh identities, each from its own address in one /64, reserve one after
 * another and disconnect; at most relay.reservationsPerIpPerHour succeed and a peer from
 * the next /64 still gets one. Runs in a lab host (a network namespace the test creates and
 * removes) with IPv6 addresses from 2001:db8::/32 (documentation) on its loopback: the
 * relay daemon and the clients are both inside it, nothing leaves it.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Lab, labUnavailableReason, startBurrow } from '../../lab/dist/index.js'
import { FIELDS } from '../../dist/config/index.js'
import type { BurrowNode, LabHost } from '../../lab/dist/index.js'

const PER_HOUR = FIELDS.find(f => f.path === 'relay.reservationsPerIpPerHour')?.default as number
const RELAY_IP = '2001:db8:ff::1'
const CROWD = Array.from({ length: 130 }, (_, i) => `2001:db8:64::${(i + 1).toString(16)}`)
const OTHER = '2001:db8:65::1'
const SCRIPT = join(import.meta.dirname, 'fixtures', 'reserve-from.ts')

describe('relay fairness: one IPv6 /64 is one address', { skip: labUnavailableReason() }, () => {
  let lab: Lab
  let host: LabHost
  let relay: BurrowNode

  before(async () => {
    lab = await Lab.create({ name: 'relay-v64' })
    host = await lab.addPublicHost('v64')
    // lab hosts run without IPv6; this one gets it, with every address on its own loopback
    await host.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.lo.disable_ipv6=0'])
    const addrs = [RELAY_IP, ...CROWD, OTHER].map(a => `addr add ${a}/128 dev lo nodad`).join('\n') + '\n'
    await host.exec('ip', ['-batch', '-'], { input: addrs })
    relay = await startBurrow(lab, host, {
      listen: [`/ip6/${RELAY_IP}/tcp/4001`],
      args: ['--relay-server', 'on'],
      env: { DEBUG: 'burrow:relay:server' }
    })
  })
  after(async () => {
    await lab?.teardown()
  })

  it(`130 identities from one /64 that reserve and disconnect get at most relay.reservationsPerIpPerHour (${PER_HOUR}); the next /64 still gets one`, async () => {
    const relayAddr = `/ip6/${RELAY_IP}/tcp/4001/p2p/${relay.peerId}`
    const t0 = performance.now()
    const r = await host.exec(process.execPath, [SCRIPT, relayAddr, ...CROWD], { timeoutMs: 120_000 })
    const { statuses } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { statuses: string[] }
    const counts: Record<string, number> = {}
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1
    console.log(`130 identities from one /64 in ${Math.round(performance.now() - t0)} ms: ${JSON.stringify(counts)}`)
    assert.equal(statuses.length, 130)
    const ok = counts.OK ?? 0
    assert.ok(ok >= 1, 'the first identity got a reservation')
    assert.ok(ok <= PER_HOUR, `${ok} reservations from one /64 (budget ${PER_HOUR} an hour)`)
    assert.equal(counts.RESERVATION_REFUSED, 130 - ok)

    const other = await host.exec(process.execPath, [SCRIPT, relayAddr, OTHER], { timeoutMs: 30_000 })
    assert.deepEqual((JSON.parse(other.stdout.trim().split('\n').pop() ?? '{}') as { statuses: string[] }).statuses, ['OK'])
    const log = await readFile(relay.process.logFile, 'utf8')
    assert.match(log, /RESERVATION_REFUSED: reservation for \S+ refused: 2001:db8:64:0::\/64 got its \d+ new reservations of the hour/)
  })
})
