// Issue 5, acceptance 1-4, once per protocol (UPnP, NAT-PMP, PCP), each on a router with the
// other two switched off; the three homes run side by side in one lab.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, labUnavailableReason, routerMappings } from '../../lab/dist/index.js'
import { cleanupHomes, dial, nat, peers, startLabDaemon, status, tcpOpens, waitUntil } from './helpers.ts'
import type { Home, LabHost } from '../../lab/dist/index.js'
import type { LabDaemon } from './helpers.ts'

const PORT = 4001
const PROTOCOLS = [
  { name: 'upnp', home: 'up', portMapping: { upnp: true, natpmp: false, pcp: false } },
  { name: 'nat-pmp', home: 'pmp', portMapping: { upnp: false, natpmp: true, pcp: false } },
  { name: 'pcp', home: 'pcp', portMapping: { upnp: false, natpmp: false, pcp: true } }
] as const

interface Case { name: string, home: Home, a: LabDaemon }

describe('port mapping per protocol (miniupnpd in the lab)', { skip: labUnavailableReason(['miniupnpd', 'upnpc', 'conntrack']) }, () => {
  let lab: Lab
  let boot: LabDaemon
  let publicHost: LabHost
  const cases: Case[] = []

  before(async () => {
    lab = await Lab.create({ name: 'portmap-protocols' })
    const [bootHost, dialHost, ...homes] = await Promise.all([
      lab.addPublicHost('boot'),
      lab.addPublicHost('dialer'),
      ...PROTOCOLS.map(async p => lab.addHome(p.home, { nat: 'cone', portMapping: p.portMapping }))
    ]) as [LabHost, LabHost, ...Home[]]
    publicHost = dialHost
    boot = await startLabDaemon(lab, bootHost)
    const started = await Promise.all(homes.map(async h => startLabDaemon(lab, h.hosts[0]!, { bootstrap: [boot.address] })))
    PROTOCOLS.forEach((p, i) => { cases.push({ name: p.name, home: homes[i]!, a: started[i]! }) })
  })

  after(async () => {
    await lab?.teardown()
    await cleanupHomes()
  })

  const mapped = async (c: Case): Promise<number | undefined> => {
    const onRouter = (await routerMappings(c.home.router)).find(m => m.protocol === 'tcp' && m.internalIp === c.a.host.ip && m.internalPort === PORT)
    const s = await status(c.a)
    const pm = s.portMappings.find(m => m.protocol === c.name && m.external.startsWith(`/ip4/${c.home.router.wanIp}/tcp/`))
    const announced = s.addresses.announced.some(a => a.startsWith(`/ip4/${c.home.router.wanIp}/tcp/`))
    return onRouter != null && pm != null && announced && s.reachability === 'public' ? onRouter.externalPort : undefined
  }

  it('maps the TCP port (on the router and in status), announces it, becomes public', async () => {
    await Promise.all(cases.map(async c => {
      const { value: port, ms } = await waitUntil(`${c.name} mapping`, async () => mapped(c), 20_000)
      const report = await nat(c.a)
      assert.equal(report.portMapping.active, c.name)
      assert.deepEqual(report.protocols.filter(p => p.answered === 'yes').map(p => p.protocol), [c.name])
      console.log(`# ${c.name}: start -> mapped ${report.timings.mappedAfterMs} ms, -> announced/public ${report.timings.announcedAfterMs} ms (seen in status ${ms} ms after the daemon printed ready)`)
      assert.equal(port, PORT, 'the router kept the port we asked for')
      assert.ok(await tcpOpens(lab, publicHost, c.home.router.wanIp, port), 'the forward opens from the internet')
    }))
    // UPnP's own listing shows it too
    const up = cases.find(c => c.name === 'upnp')!
    const listed = await up.home.router.listMappings()
    assert.ok(listed.some(m => m.protocol === 'TCP' && m.internalIp === up.a.host.ip && m.internalPort === PORT && m.description === 'burrow'), JSON.stringify(listed))
  })

  it('a public node dials A by PeerId, directly through the mapping', async () => {
    // a fresh DHT client: no earlier connection from A to reuse, so the dial must go in through the mapping
    const dialer = await startLabDaemon(lab, publicHost, { bootstrap: [boot.address], args: ['--dht-mode', 'client'] })
    for (const c of cases) {
      const r = await dial(dialer, c.a.peerId)
      assert.equal(r.peerId, c.a.peerId)
      assert.equal(r.direct, true)
      assert.match(r.remoteAddress, new RegExp(`^/ip4/${c.home.router.wanIp.replaceAll('.', '\\.')}/tcp/${PORT}`))
      // the dialer opened it (A did not connect out to the dialer): it came in through the mapping
      const conns = await peers(dialer)
      assert.ok(conns.some(p => p.peerId === c.a.peerId && p.direction === 'outbound' && p.direct && p.remoteAddress.startsWith(`/ip4/${c.home.router.wanIp}/tcp/${PORT}`)), JSON.stringify(conns))
      console.log(`# ${c.name}: dialed by PeerId in ${r.durationMs} ms via ${r.remoteAddress}`)
    }
  })

  it('router reboot: the mapping is back (same external port) and A reachable within 60 s', async () => {
    await Promise.all(cases.map(async c => {
      // (the lab's reboot flushes miniupnpd's rules and lease file; test/lab/portmap.test.ts checks that)
      const started = Date.now()
      await c.home.router.reboot()
      const { value: port } = await waitUntil(`${c.name} mapping after reboot`, async () => mapped(c), 60_000)
      assert.equal(port, PORT)
      assert.ok(await tcpOpens(lab, publicHost, c.home.router.wanIp, port))
      console.log(`# ${c.name}: mapping back and reachable ${Date.now() - started} ms after the reboot began`)
    }))
  })

  it('WAN address change: the new address is announced within 30 s and the old one withdrawn', async () => {
    await Promise.all(cases.map(async c => {
      const old = c.home.router.wanIp
      const next = await c.home.router.changeWanAddress()
      const { ms } = await waitUntil(`${c.name} new address`, async () => {
        const s = await status(c.a)
        const hasNew = s.addresses.announced.some(a => a.startsWith(`/ip4/${next}/tcp/`))
        const hasOld = s.addresses.announced.some(a => a.startsWith(`/ip4/${old}/`))
        return hasNew && !hasOld && s.portMappings.some(m => m.external.startsWith(`/ip4/${next}/`))
      }, 30_000)
      assert.ok(await tcpOpens(lab, publicHost, next, PORT))
      console.log(`# ${c.name}: ${old} -> ${next} announced after ${ms} ms`)
    }))
  })

  it('clean stop (SIGTERM): the mapping is gone from the router', async () => {
    await Promise.all(cases.map(async c => {
      assert.ok((await routerMappings(c.home.router)).length > 0)
      await c.a.proc.stop(10_000)
      assert.deepEqual(await routerMappings(c.home.router), [])
    }))
    assert.deepEqual((await cases.find(c => c.name === 'upnp')!.home.router.listMappings()), [])
  })
})
