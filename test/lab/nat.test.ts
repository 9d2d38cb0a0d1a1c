// Acceptance 1: each NAT kind behaves as named, checked with plain sockets (no libp2p).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab } from '../../lab/dist/index.js'
import { ip, jsonWith, port, skipReason, waitForKey } from './helpers.ts'
import type { Home, LabHost } from '../../lab/dist/index.js'

const OBSERVER_PORT = 3478

describe('NAT kinds', { skip: skipReason(['conntrack', 'miniupnpd', 'upnpc']) }, () => {
  let lab: Lab
  let obs1: LabHost
  let obs2: LabHost
  let cone: Home
  let symmetric: Home
  let dmz: Home
  let cgnatHome: Home
  let hairpin: Home
  let noHairpin: Home

  before(async () => {
    lab = await Lab.create({ name: 'nat-kinds' })
    obs1 = await lab.addPublicHost('obs1')
    obs2 = await lab.addPublicHost('obs2')
    cone = await lab.addHome('cone', { nat: 'cone', portMapping: { upnp: true, natpmp: false, pcp: false } })
    symmetric = await lab.addHome('sym', { nat: 'symmetric' })
    dmz = await lab.addHome('dmz', { nat: 'none' })
    const cgnat = await lab.addCgnat('isp', { nat: 'cone' })
    cgnatHome = await lab.addHome('dbl', { nat: 'cone', behind: cgnat })
    hairpin = await lab.addHome('hp', { nat: 'cone', hosts: 2, hairpin: true })
    noHairpin = await lab.addHome('nohp', { nat: 'cone', hosts: 2, hairpin: false })
    for (const o of [obs1, obs2]) {
      const p = await lab.spawnProbe(o, ['observe', String(OBSERVER_PORT)], { logName: `${o.name}-observer` })
      await waitForKey(p, 'observing')
    }
  })

  after(async () => {
    await lab?.teardown()
  })

  /** What the two observers saw of one inside port. */
  async function mappedAddresses (host: LabHost, proto: 'udp' | 'tcp', localPort: number): Promise<string[]> {
    const r = await lab.probe(host, ['probe', proto, String(localPort), '0', `${obs1.ip}:${OBSERVER_PORT}`, `${obs2.ip}:${OBSERVER_PORT}`])
    const seen = jsonWith<Array<string | null>>(r.stdout, 'seen')
    assert.ok(seen.every(s => s !== null), `both observers answered ${proto}: ${r.stdout}`)
    return seen as string[]
  }

  for (const proto of ['udp', 'tcp'] as const) {
    it(`cone: one inside ${proto} port maps to the same public ip:port for two destinations`, async () => {
      const [a, b] = await mappedAddresses(cone.hosts[0]!, proto, 41000)
      assert.equal(ip(a!), cone.router.wanIp)
      assert.equal(a, b)
    })

    it(`symmetric: one inside ${proto} port maps to a different public port per destination`, async () => {
      const [a, b] = await mappedAddresses(symmetric.hosts[0]!, proto, 41000)
      assert.equal(ip(a!), symmetric.router.wanIp)
      assert.equal(ip(b!), symmetric.router.wanIp)
      assert.notEqual(port(a!), port(b!))
    })

    it(`none (DMZ): the host keeps its ${proto} port and outside hosts reach it unsolicited`, async () => {
      const [a, b] = await mappedAddresses(dmz.hosts[0]!, proto, 41000)
      assert.equal(a, `${dmz.router.wanIp}:41000`)
      assert.equal(a, b)
      const listener = await lab.spawnProbe(dmz.hosts[0]!, ['listen', proto, '42000', '5000'])
      await waitForKey(listener, 'listening')
      const r = await lab.probe(obs2, ['send', proto, `${dmz.router.wanIp}:42000`, 'hello', '3000'])
      assert.deepEqual(jsonLines1(r.stdout), { ok: true, reply: 'ok' })
      const from = await waitForKey<string>(listener, 'from')
      assert.equal(ip(from), obs2.ip)
    })

    it(`double NAT: a ${proto} flow leaves with the CGNAT's public address`, async () => {
      const [a, b] = await mappedAddresses(cgnatHome.hosts[0]!, proto, 41000)
      assert.equal(ip(a!), cgnatHome.router.upstream!.wanIp)
      assert.equal(a, b)
      assert.match(cgnatHome.router.wanIp, /^100\.64\./)
    })
  }

  it('unsolicited inbound is dropped: a host the inside never contacted cannot use the mapping', async () => {
    for (const home of [cone, symmetric]) {
      // the inside host talks to obs1 from port 43000, then listens on it for 2.5 s
      const prober = await lab.spawnProbe(home.hosts[0]!, ['probe', 'udp', '43000', '1500', `${obs1.ip}:${OBSERVER_PORT}`])
      const [mapped] = await waitForKey<string[]>(prober, 'seen')
      assert.ok(mapped !== undefined && mapped !== null)
      // obs2 sends to that public ip:port
      const sent = await lab.probe(obs2, ['send', 'udp', mapped, 'intruder', '1000'])
      assert.deepEqual(jsonLines1(sent.stdout), { ok: false, error: 'timeout' })
      const unsolicited = await waitForKey<unknown[]>(prober, 'unsolicited', 5000)
      assert.deepEqual(unsolicited, [], `${home.name}: nothing from obs2 got through`)
      // and nothing gets in over TCP to an inside listener either
      const listener = await lab.spawnProbe(home.hosts[0]!, ['listen', 'tcp', '43001', '2000'])
      await waitForKey(listener, 'listening')
      const tcp = await lab.probe(obs2, ['send', 'tcp', `${home.router.wanIp}:43001`, 'intruder', '1000'])
      assert.equal(jsonLines1(tcp.stdout).ok, false)
    }
  })

  it('two hosts behind one NAT share its public address', async () => {
    const [a] = await mappedAddresses(hairpin.hosts[0]!, 'udp', 41000)
    const [b] = await mappedAddresses(hairpin.hosts[1]!, 'udp', 41000)
    assert.equal(ip(a!), hairpin.router.wanIp)
    assert.equal(ip(b!), hairpin.router.wanIp)
    assert.notEqual(a, b, 'the same inside port of two hosts gets two outside ports')
  })

  it('hairpinning on: a LAN host reaches a forwarded port through the WAN address; off: it cannot', async () => {
    for (const [home, expectOk] of [[hairpin, true], [noHairpin, false]] as const) {
      const [server, client] = home.hosts
      await home.router.forwardPort({ protocol: 'tcp', externalPort: 47000, internalIp: server!.ip, internalPort: 47000 })
      const listener = await lab.spawnProbe(server!, ['listen', 'tcp', '47000', '2500'])
      await waitForKey(listener, 'listening')
      const r = await lab.probe(client!, ['send', 'tcp', `${home.router.wanIp}:47000`, 'hi', '1500'])
      assert.equal(jsonLines1(r.stdout).ok, expectOk, `${home.name}: ${r.stdout}`)
      if (expectOk) {
        // a hairpinned connection comes from the router, as on real routers (NAT loopback)
        assert.equal(ip(await waitForKey<string>(listener, 'from')), home.router.lanIp)
      }
      // and from outside, the forward works either way
      const listener2 = await lab.spawnProbe(server!, ['listen', 'tcp', '47001', '2500'])
      await waitForKey(listener2, 'listening')
      await home.router.forwardPort({ protocol: 'tcp', externalPort: 47001, internalIp: server!.ip, internalPort: 47001 })
      const outside = await lab.probe(obs1, ['send', 'tcp', `${home.router.wanIp}:47001`, 'hi', '1500'])
      assert.equal(jsonLines1(outside.stdout).ok, true, `${home.name} forward from outside: ${outside.stdout}`)
    }
  })

  for (const proto of ['tcp', 'udp'] as const) {
    it(`a mapping made with upnpc -r lets an outside host in (${proto})`, async () => {
      const inside = cone.hosts[0]!
      const before = await lab.probe(obs2, ['send', proto, `${cone.router.wanIp}:45000`, 'early', '1000'])
      assert.equal(jsonLines1(before.stdout).ok, false, 'closed before the mapping')
      // -u skips SSDP discovery (2 s); discovery itself is covered in portmap.test.ts
      const url = cone.router.upnpRootUrl!
      const mapped = await lab.exec(inside, 'upnpc', ['-u', url, '-e', 'lab test', '-r', '45000', proto.toUpperCase()])
      assert.match(mapped.stdout, /is redirected to internal/)
      const listener = await lab.spawnProbe(inside, ['listen', proto, '45000', '5000'])
      await waitForKey(listener, 'listening')
      const r = await lab.probe(obs2, ['send', proto, `${cone.router.wanIp}:45000`, 'hello', '3000'])
      assert.deepEqual(jsonLines1(r.stdout), { ok: true, reply: 'ok' })
      assert.equal(ip(await waitForKey<string>(listener, 'from')), obs2.ip)
      await lab.exec(inside, 'upnpc', ['-u', url, '-d', '45000', proto.toUpperCase()])
    })
  }
})

function jsonLines1 (text: string): Record<string, unknown> {
  const line = text.split('\n').find(l => l.startsWith('{'))
  assert.ok(line !== undefined, `a JSON line in: ${text}`)
  return JSON.parse(line) as Record<string, unknown>
}
