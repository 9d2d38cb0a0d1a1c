// Issue 5, acceptance 5-7 and LAN-only: a router with no mapping protocol, double NAT (a UPnP
// router behind a carrier-grade NAT), a manual forward made in nftables, and --lan-only.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, labUnavailableReason } from '../../dist/lab/index.js'
import { cleanupHomes, dial, nat, peers, startLabDaemon, status, waitUntil } from './helpers.ts'
import type { Home, LabHost } from '../../dist/lab/index.js'
import type { LabDaemon } from './helpers.ts'

const PORT = 4001
const FORWARDED = 40123

describe('port mapping modes: none, double NAT, manual, LAN-only', { skip: labUnavailableReason(['miniupnpd', 'conntrack']) }, () => {
  let lab: Lab
  let publicHost: LabHost
  let boot: LabDaemon
  let none: { home: Home, a: LabDaemon }
  let double: { home: Home, a: LabDaemon }
  let manual: { home: Home, a: LabDaemon }
  let lan: { home: Home, a: LabDaemon, b: LabDaemon }

  before(async () => {
    lab = await Lab.create({ name: 'portmap-modes' })
    const cgnat = await lab.addCgnat('isp', { nat: 'cone' })
    const [bootHost, dialHost, noneHome, doubleHome, manualHome, lanHome] = await Promise.all([
      lab.addPublicHost('boot'),
      lab.addPublicHost('dialer'),
      lab.addHome('none', { nat: 'cone' }),
      lab.addHome('dbl', { nat: 'cone', behind: cgnat, portMapping: { upnp: true, natpmp: true, pcp: true } }),
      lab.addHome('man', { nat: 'cone' }),
      lab.addHome('lan', { nat: 'cone', hosts: 2 })
    ])
    publicHost = dialHost
    await manualHome.router.forwardPort({ protocol: 'tcp', externalPort: FORWARDED, internalIp: manualHome.hosts[0]!.ip, internalPort: PORT })
    // the boot node offers relay service, so a private node can hold a reservation
    boot = await startLabDaemon(lab, bootHost, { args: ['--relay-server', 'on'] })
    const bootstrap = [boot.address]
    const [a1, a2, a3, l1, l2] = await Promise.all([
      startLabDaemon(lab, noneHome.hosts[0]!, { bootstrap }),
      startLabDaemon(lab, doubleHome.hosts[0]!, { bootstrap }),
      startLabDaemon(lab, manualHome.hosts[0]!, { bootstrap, args: ['--announce', `/ip4/${manualHome.router.wanIp}/tcp/${FORWARDED}`] }),
      startLabDaemon(lab, lanHome.hosts[0]!, { args: ['--lan-only'] }),
      startLabDaemon(lab, lanHome.hosts[1]!, { args: ['--lan-only'] })
    ])
    none = { home: noneHome, a: a1 }
    double = { home: doubleHome, a: a2 }
    manual = { home: manualHome, a: a3 }
    lan = { home: lanHome, a: l1, b: l2 }
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

  it('double NAT: reported by burrow nat, and the unreachable address is not announced', async () => {
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
