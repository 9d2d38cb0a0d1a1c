// Acceptance 3: natpmpc and upnpc against the lab router report its WAN address; a reboot
// removes their mappings. Also: each protocol is switchable, and a new public IP shows.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lab } from '../../lab/dist/index.js'
import { skipReason } from './helpers.ts'
import type { Home, LabHost } from '../../lab/dist/index.js'

describe('home router with port mapping (miniupnpd)', { skip: skipReason(['miniupnpd', 'upnpc', 'natpmpc', 'conntrack']) }, () => {
  let lab: Lab
  let home: Home
  let upnpOnly: Home
  let pmpOnly: Home
  let inside: LabHost

  before(async () => {
    lab = await Lab.create({ name: 'portmap' })
    home = await lab.addHome('home', { nat: 'cone', portMapping: { upnp: true, natpmp: true, pcp: true } })
    upnpOnly = await lab.addHome('up', { nat: 'cone', portMapping: { upnp: true, natpmp: false, pcp: false } })
    pmpOnly = await lab.addHome('pmp', { nat: 'cone', portMapping: { upnp: false, natpmp: true, pcp: false } })
    inside = home.hosts[0]!
  })

  after(async () => {
    await lab?.teardown()
  })

  const upnpc = async (h: Home, args: string[]): Promise<string> => {
    const url = h.router.upnpRootUrl
    const r = await lab.exec(h.hosts[0]!, 'upnpc', [...(url !== undefined ? ['-u', url] : []), ...args], { allowFailure: true, timeoutMs: 8000 })
    return r.stdout + r.stderr
  }
  const natpmpc = async (h: Home, args: string[]): Promise<string> => {
    const r = await lab.exec(h.hosts[0]!, 'natpmpc', ['-g', h.router.lanIp, ...args], { allowFailure: true, timeoutMs: 3000 })
    return r.stdout + r.stderr
  }

  it('upnpc reports the WAN address (found by SSDP discovery)', async () => {
    const r = await lab.exec(inside, 'upnpc', ['-s'])
    assert.match(r.stdout, new RegExp(`ExternalIPAddress = ${home.router.wanIp.replaceAll('.', '\\.')}\\b`))
  })

  it('natpmpc reports the WAN address', async () => {
    assert.match(await natpmpc(home, []), new RegExp(`Public IP address : ${home.router.wanIp.replaceAll('.', '\\.')}\\b`))
  })

  it('a router reboot removes mappings made with upnpc and natpmpc', async () => {
    assert.match(await upnpc(home, ['-e', 'lab', '-r', '46000', 'TCP']), /is redirected to internal/)
    assert.match(await natpmpc(home, ['-a', '46001', '46001', 'udp', '3600']), /Mapped public port 46001/)
    const mappings = await home.router.listMappings(inside)
    assert.deepEqual(mappings.map(m => `${m.protocol} ${m.externalPort}->${m.internalIp}:${m.internalPort}`).sort(),
      [`TCP 46000->${inside.ip}:46000`, `UDP 46001->${inside.ip}:46001`])
    await home.router.reboot()
    assert.deepEqual(await home.router.listMappings(inside), [])
    const chain = await lab.exec(home.router, 'nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])
    assert.doesNotMatch(chain.stdout, /dnat/)
    // and the router still maps after the reboot
    assert.match(await natpmpc(home, []), /Public IP address/)
  })

  it('a new public IP shows in natpmpc and upnpc', async () => {
    const old = home.router.wanIp
    const next = await home.router.changeWanAddress()
    assert.notEqual(next, old)
    assert.match(await natpmpc(home, []), new RegExp(`Public IP address : ${next.replaceAll('.', '\\.')}\\b`))
    assert.match(await upnpc(home, ['-s']), new RegExp(`ExternalIPAddress = ${next.replaceAll('.', '\\.')}\\b`))
  })

  it('UPnP only: natpmpc gets no answer', async () => {
    assert.match(await upnpc(upnpOnly, ['-s']), /ExternalIPAddress/)
    assert.doesNotMatch(await natpmpc(upnpOnly, []), /Public IP address/)
  })

  it('NAT-PMP only: upnpc finds no IGD, natpmpc works', async () => {
    assert.match(await natpmpc(pmpOnly, []), /Public IP address/)
    const r = await lab.exec(pmpOnly.hosts[0]!, 'upnpc', ['-s'], { allowFailure: true, timeoutMs: 8000 })
    assert.doesNotMatch(r.stdout, /ExternalIPAddress/)
  })
})
