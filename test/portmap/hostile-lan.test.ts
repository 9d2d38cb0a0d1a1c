// Issue 10, acceptance 5 (lab part): the UPnP client is not steered by the LAN. A LAN host
// that answers SSDP before the router (and would map anything, claiming a public address)
// gets no request at all; a router whose external address a dial-back cannot reach
// (miniupnpd with a fake ext_ip) has its mapping listed as unconfirmed, never announced.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { Lab, labUnavailableReason, routerMappings } from '../../lab/dist/index.js'
import { cleanupHomes, nat, startLabDaemon, status, waitUntil } from './helpers.ts'
import type { Home, LabProcess } from '../../lab/dist/index.js'
import type { LabDaemon } from './helpers.ts'

const PORT = 4001
const FAKE_IGD = fileURLToPath(new URL('./fixtures/fake-igd.ts', import.meta.url))
const UPNP_ONLY = { upnp: true, natpmp: false, pcp: false }

describe('a hostile LAN cannot steer port mapping (miniupnpd and an impostor in the lab)', { skip: labUnavailableReason(['miniupnpd', 'conntrack']) }, () => {
  let lab: Lab
  let boot: LabDaemon
  let spoofed: { home: Home, a: LabDaemon, impostor: LabProcess, impostorIp: string, claimed: string }
  let liar: { home: Home, a: LabDaemon, claimed: string }

  before(async () => {
    lab = await Lab.create({ name: 'portmap-hostile' })
    // unused addresses on the lab's internet: nobody answers there, so a dial-back cannot succeed
    const claimedByImpostor = lab.internet.gateway.replace(/\.\d+$/, '.98')
    const claimedByRouter = lab.internet.gateway.replace(/\.\d+$/, '.99')
    const [bootHost, spoofHome, liarHome] = await Promise.all([
      lab.addPublicHost('boot'),
      lab.addHome('spf', { nat: 'cone', hosts: 2, portMapping: UPNP_ONLY }),
      lab.addHome('liar', { nat: 'cone', portMapping: { ...UPNP_ONLY, extIp: claimedByRouter } })
    ])
    const impostorHost = spoofHome.hosts[1]!
    const impostor = await lab.spawn(impostorHost, process.execPath, [FAKE_IGD, impostorHost.ip, claimedByImpostor], { logName: 'impostor' })
    await impostor.waitForOutput(/^ready/m, 10_000)
    // the public node runs AutoNAT v2: it is the one that dials mapped addresses back; its log says when a dial-back failed
    boot = await startLabDaemon(lab, bootHost, { env: { DEBUG: 'burrow:portmap*,libp2p:auto-nat-v2*' } })
    const env = { DEBUG: 'burrow:portmap*,burrow:nat:dial-back' }
    const [a, b] = await Promise.all([
      startLabDaemon(lab, spoofHome.hosts[0]!, { bootstrap: [boot.address], env }),
      startLabDaemon(lab, liarHome.hosts[0]!, { bootstrap: [boot.address], env })
    ])
    spoofed = { home: spoofHome, a, impostor, impostorIp: impostorHost.ip, claimed: claimedByImpostor }
    liar = { home: liarHome, a: b, claimed: claimedByRouter }
  })

  after(async () => {
    await lab?.teardown()
    await cleanupHomes()
  })

  it('an SSDP answer from a LAN host that is not the gateway is ignored: no request to it, the router maps', async () => {
    const { home, a, impostor, impostorIp, claimed } = spoofed
    // the impostor did answer our search (else this test would prove nothing)
    await impostor.waitForOutput(new RegExp(`^SSDP answered ${a.host.ip.replaceAll('.', '\\.')}:`, 'm'), 15_000)
    const { value: s, ms } = await waitUntil('the mapping on the real router, confirmed by a dial-back', async () => {
      const onRouter = (await routerMappings(home.router)).some(m => m.protocol === 'tcp' && m.internalIp === a.host.ip && m.internalPort === PORT)
      const st = await status(a)
      return onRouter && st.portMappings.some(m => m.protocol === 'upnp' && m.external.startsWith(`/ip4/${home.router.wanIp}/tcp/`) && m.confirmed) ? st : undefined
    }, 30_000)
    assert.equal(s.reachability, 'public')
    assert.ok(!s.portMappings.some(m => m.external.includes(claimed)), JSON.stringify(s.portMappings))
    assert.ok(!s.addresses.announced.some(x => x.includes(claimed)), JSON.stringify(s.addresses.announced))
    const report = await nat(a)
    assert.ok(report.portMapping.gateway?.startsWith(`http://${home.router.lanIp}:`), String(report.portMapping.gateway))
    // not one GET or SOAP POST reached the impostor, and the daemon's debug log says why it was ignored
    assert.doesNotMatch(impostor.recentOutput, /^HTTP /m, impostor.recentOutput)
    assert.match(a.proc.recentOutput, new RegExp(`ignored SSDP answer: answer from ${impostorIp.replaceAll('.', '\\.')}, which is not the gateway`))
    console.log(`# impostor ignored; real mapping confirmed ${ms} ms after the impostor's answer`)
  })

  it('a router that reports a public address a dial-back cannot reach: mapped but unconfirmed, never announced', async () => {
    const { home, a, claimed } = liar
    const started = Date.now()
    const { value: first } = await waitUntil('the mapping with the claimed address', async () => {
      const st = await status(a)
      return st.portMappings.some(m => m.protocol === 'upnp' && m.external.startsWith(`/ip4/${claimed}/tcp/`)) ? st : undefined
    }, 20_000)
    // the router's word alone announces nothing
    assert.ok(!first.addresses.announced.some(x => x.includes(claimed)), JSON.stringify(first.addresses.announced))
    assert.notEqual(first.reachability, 'public')
    // the AutoNAT server on the public node tried the claimed address and could not connect
    await boot.proc.waitForOutput(new RegExp(`failed to open connection to /ip4/${claimed.replaceAll('.', '\\.')}/tcp/`), 30_000)
    const dialBackFailedMs = Date.now() - started
    const s = await status(a)
    const m = s.portMappings.find(x => x.protocol === 'upnp')
    assert.ok(m != null && m.external.startsWith(`/ip4/${claimed}/tcp/`), JSON.stringify(s.portMappings))
    assert.equal(m.confirmed, false)
    assert.ok(!s.addresses.announced.some(x => x.includes(claimed)), JSON.stringify(s.addresses.announced))
    assert.notEqual(s.reachability, 'public')
    const report = await nat(a)
    assert.deepEqual(report.mappings.map(x => [x.external.split('/tcp/')[0], x.confirmed, x.announced]), [[`/ip4/${claimed}`, false, false]])
    assert.match(report.advice, /unconfirmed/)
    // the router's real address is not ours to announce either: nothing verified it
    assert.ok(!s.addresses.announced.some(x => x.startsWith(`/ip4/${home.router.wanIp}/tcp/${PORT}`)), JSON.stringify(s.addresses.announced))
    console.log(`# lying router: mapping listed unconfirmed; the dial-back failed ${dialBackFailedMs} ms after the test began`)
  })
})
