// Issue 5, acceptance 5-7 and LAN-only: a router with no mapping protocol, double NAT (a UPnP
// router behind a carrier-grade NAT: one that maps anyway, and one that refuses as miniupnpd
// does by default), a manual forward made in nftables, and --lan-only.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, labUnavailableReason, privateWanRouterUnavailableReason, routerMappings } from '../../lab/dist/index.js'
import { cleanupHomes, dial, nat, peers, startLabDaemon, status, waitUntil } from './helpers.ts'
import type { Home, LabHost, Router } from '../../lab/dist/index.js'
import type { LabDaemon } from './helpers.ts'

const PORT = 4001
const FORWARDED = 40123
/** the double-NAT router that maps needs miniupnpd >= 2.3.4, built by scripts/build-miniupnpd.sh */
const MAPPING_ROUTER_SKIP = labUnavailableReason(['miniupnpd', 'conntrack']) ?? privateWanRouterUnavailableReason()

describe('port mapping modes: none, double NAT, manual, LAN-only', { skip: labUnavailableReason(['miniupnpd', 'conntrack']) }, () => {
  let lab: Lab
  let publicHost: LabHost
  let boot: LabDaemon
  let none: { home: Home, a: LabDaemon }
  let cgnat: Router
  let double: { home: Home, a: LabDaemon }
  let doubleMaps: { home: Home, a: LabDaemon } | undefined
  let manual: { home: Home, a: LabDaemon }
  let lan: { home: Home, a: LabDaemon, b: LabDaemon }

  before(async () => {
    lab = await Lab.create({ name: 'portmap-modes' })
    cgnat = await lab.addCgnat('isp', { nat: 'cone' })
    const [bootHost, dialHost, noneHome, doubleHome, manualHome, lanHome, doubleMapsHome] = await Promise.all([
      lab.addPublicHost('boot'),
      lab.addPublicHost('dialer'),
      lab.addHome('none', { nat: 'cone' }),
      lab.addHome('dbl', { nat: 'cone', behind: cgnat, portMapping: { upnp: true, natpmp: true, pcp: true } }),
      lab.addHome('man', { nat: 'cone' }),
      lab.addHome('lan', { nat: 'cone', hosts: 2 }),
      MAPPING_ROUTER_SKIP === undefined
        ? lab.addHome('dbm', { nat: 'cone', behind: cgnat, portMapping: { upnp: true, natpmp: false, pcp: false, privateWan: 'map' } })
        : undefined
    ])
    publicHost = dialHost
    await manualHome.router.forwardPort({ protocol: 'tcp', externalPort: FORWARDED, internalIp: manualHome.hosts[0]!.ip, internalPort: PORT })
    // the boot node offers relay service, so a private node can hold a reservation
    boot = await startLabDaemon(lab, bootHost, { args: ['--relay-server', 'on'] })
    const bootstrap = [boot.address]
    const [a1, a2, a3, l1, l2, a4] = await Promise.all([
      startLabDaemon(lab, noneHome.hosts[0]!, { bootstrap }),
      startLabDaemon(lab, doubleHome.hosts[0]!, { bootstrap }),
      startLabDaemon(lab, manualHome.hosts[0]!, { bootstrap, args: ['--announce', `/ip4/${manualHome.router.wanIp}/tcp/${FORWARDED}`] }),
      startLabDaemon(lab, lanHome.hosts[0]!, { args: ['--lan-only'] }),
      startLabDaemon(lab, lanHome.hosts[1]!, { args: ['--lan-only'] }),
      doubleMapsHome !== undefined ? startLabDaemon(lab, doubleMapsHome.hosts[0]!, { bootstrap }) : undefined
    ])
    none = { home: noneHome, a: a1 }
    double = { home: doubleHome, a: a2 }
    manual = { home: manualHome, a: a3 }
    lan = { home: lanHome, a: l1, b: l2 }
    if (doubleMapsHome !== undefined && a4 !== undefined) doubleMaps = { home: doubleMapsHome, a: a4 }
  })

  after(async () => {
    await lab?.teardown()
    await cleanupHomes()
  })

  it('no mapping protocol: burrow nat says so, A stays private and keeps a relay reservation', async () => {
    const { value: report, ms } = await waitUntil('the no-protocol verdict', async () => {
      const r = await nat(none.a)
      return r.portMapping.status === 'no-protocol' ? r : undefined
    }, 15_000)
    assert.match(report.advice, /no mapping protocol answered/)
    assert.deepEqual(report.protocols.map(p => [p.protocol, p.answered]), [['pcp', 'no'], ['nat-pmp', 'no'], ['upnp', 'no']])
    const s = await status(none.a)
    assert.notEqual(s.reachability, 'public')
    assert.deepEqual(s.portMappings, [])
    assert.ok(!s.addresses.announced.some(a => a.startsWith(`/ip4/${none.home.router.wanIp}/`)))
    const { ms: reservedMs } = await waitUntil('a relay reservation', async () => (await status(none.a)).reservations.length > 0, 30_000)
    console.log(`# no protocol: verdict after ${ms} ms; reservation held after ${reservedMs} ms more`)
  })

  it('double NAT, a UPnP router that maps behind the CGNAT: the mapping is made, burrow nat reports the double NAT, the address is not announced', { skip: MAPPING_ROUTER_SKIP }, async () => {
    const d = doubleMaps!
    const wan = d.home.router.wanIp
    assert.match(wan, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, 'the home router sits on the CGNAT segment')
    // the mapping is made: in the router's own rules and in its UPnP table, for A's listen port
    const { value: onRouter, ms } = await waitUntil('the mapping on the router', async () =>
      (await routerMappings(d.home.router)).find(m => m.protocol === 'tcp' && m.internalIp === d.a.host.ip && m.internalPort === PORT), 15_000)
    const listed = await d.home.router.listMappings()
    assert.ok(listed.some(m => m.protocol === 'TCP' && m.externalPort === onRouter.externalPort && m.internalIp === d.a.host.ip && m.internalPort === PORT), JSON.stringify(listed))
    // burrow knows the mapping, says why it is of no use from the internet, and does not announce it.
    // Its external address is the router's 100.64 one, or unspecified: miniupnpd answers
    // GetExternalIPAddress with "" when its WAN address is not public.
    const externals = [`/ip4/${wan}/tcp/${onRouter.externalPort}`, `/ip4/0.0.0.0/tcp/${onRouter.externalPort}`]
    const { value: report } = await waitUntil('the double NAT verdict', async () => {
      const r = await nat(d.a)
      return r.doubleNat && r.mappings.some(m => externals.includes(m.external)) ? r : undefined
    }, 15_000)
    const external = report.mappings[0]!.external
    assert.equal(report.portMapping.status, 'double-nat')
    assert.match(report.advice, new RegExp(`^double NAT: the router('s external address ${wan.replaceAll('.', '\\.')} is carrier-grade, so its mapping of| mapped) port ${onRouter.externalPort} `))
    assert.deepEqual(report.mappings.map(m => [m.protocol, m.external, m.announced]), [['upnp', external, false]])
    const s = await status(d.a)
    assert.deepEqual(s.portMappings.map(m => [m.protocol, m.internal, m.external]), [['upnp', `/ip4/${d.a.host.ip}/tcp/${PORT}`, external]])
    assert.notEqual(s.reachability, 'public')
    const unreachable = [`/ip4/${wan}/`, `/ip4/${cgnat.wanIp}/tcp/${onRouter.externalPort}`, '/ip4/0.0.0.0/']
    assert.ok(!s.addresses.announced.some(a => unreachable.some(u => a.startsWith(u))), JSON.stringify(s.addresses.announced))
    // not announcing it is right: from the internet, the CGNAT's public address on that port does not answer
    const probe = await publicHost.exec('bash', ['-c', `timeout 3 bash -c '</dev/tcp/${cgnat.wanIp}/${onRouter.externalPort}'`], { allowFailure: true })
    assert.notEqual(probe.code, 0, 'the mapped port is reachable from the internet after all')
    // A stays reachable through a relay
    await waitUntil('a relay reservation', async () => (await status(d.a)).reservations.length > 0, 30_000)
    console.log(`# double NAT (maps): ${external} mapped ${ms} ms after the check began; advice: ${report.advice}`)
  })

  it('double NAT, a router that refuses behind the CGNAT: reported by burrow nat, and nothing is announced', async () => {
    const { value: report } = await waitUntil('the double NAT verdict', async () => {
      const r = await nat(double.a)
      return r.doubleNat ? r : undefined
    }, 15_000)
    assert.equal(report.portMapping.status, 'double-nat')
    assert.match(report.advice, /^double NAT/)
    console.log(`# double NAT: ${JSON.stringify(report.protocols.map(p => [p.protocol, p.answered, p.externalIp ?? p.detail]))}; ${report.advice}`)
    const s = await status(double.a)
    assert.notEqual(s.reachability, 'public')
    const wan = double.home.router.wanIp
    assert.match(wan, /^100\./)
    assert.ok(!s.addresses.announced.some(a => a.startsWith(`/ip4/${wan}/`) || a.startsWith('/ip4/0.0.0.0/')), JSON.stringify(s.addresses.announced))
  })

  it('manual forward (nftables dnat): announced, shown as manual, and dialed directly by PeerId', async () => {
    const external = `/ip4/${manual.home.router.wanIp}/tcp/${FORWARDED}`
    const s = await status(manual.a)
    assert.deepEqual(s.portMappings.map(m => [m.protocol, m.external]), [['manual', external]])
    assert.equal(s.portMappings[0]?.internal, `/ip4/${manual.a.host.ip}/tcp/${PORT}`)
    assert.deepEqual(s.addresses.announced.map(a => a.split('/p2p/')[0]), [external])
    assert.equal(s.reachability, 'public')
    assert.equal(s.reachabilitySource, 'manual')
    const report = await nat(manual.a)
    assert.equal(report.portMapping.status, 'manual')
    const dialer = await startLabDaemon(lab, publicHost, { bootstrap: [boot.address], args: ['--dht-mode', 'client'] })
    const r = await dial(dialer, manual.a.peerId)
    assert.equal(r.direct, true)
    assert.ok(r.remoteAddress.startsWith(external), r.remoteAddress)
    const conns = await peers(dialer)
    assert.ok(conns.some(p => p.peerId === manual.a.peerId && p.direction === 'outbound' && p.remoteAddress.startsWith(external)), JSON.stringify(conns))
  })

  it('LAN-only: nothing mapped, only LAN addresses announced, the LAN peer found by mDNS', async () => {
    const { ms } = await waitUntil('mDNS peers connected', async () => {
      const conns = await peers(lan.a)
      return conns.some(p => p.peerId === lan.b.peerId)
    }, 20_000)
    const s = await status(lan.a)
    assert.deepEqual(s.portMappings, [])
    assert.ok(s.addresses.announced.length > 0)
    for (const a of s.addresses.announced) assert.match(a, /^\/ip4\/(192\.168\.|127\.)/)
    const report = await nat(lan.a)
    assert.equal(report.portMapping.status, 'lan-only')
    assert.deepEqual(report.protocols, [])
    console.log(`# LAN-only: peer found by mDNS and connected within ${ms} ms`)
  })
})
