/**
 * The PortMapper (src/portmap) against a fake router on loopback (fake-gateway.ts), in this
 * process and without root: the first mapping over each protocol, renewals, a router reboot,
 * a new external address, and failures (error codes, silence, garbage), with what the mapper
 * then reports (`report()`, events, the addresses it offers and withdraws). The lab tests
 * (test/portmap/*) do the same against miniupnpd and the kernel's NAT, end to end.
 */
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { TypedEventEmitter } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { PortMapper } from '../../../src/portmap/index.ts'
import { natAdvice } from '../../../src/portmap/report.ts'
import { FakeGateway } from './fake-gateway.ts'
import type { FakeGatewayInit } from './fake-gateway.ts'
import type { PortMapperEvents, PortMapperInit } from '../../../src/portmap/index.ts'
import type { Libp2pEvents } from '@libp2p/interface'
import type { AddressManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/** our LAN address as the transports report it (the gateway sees us at 127.0.0.1) */
const LISTEN = '/ip4/192.168.1.10/tcp/4001'
/** how long any one wait may take before the test gives up: a hang guard, not a timing assert */
const WAIT_MS = 15_000

/**
 * The two libp2p parts the mapper uses, reduced to what it calls: the address manager keeps
 * the offered mappings and which of them a dial-back verified; `confirm()` plays the dial-back.
 */
class FakeAddressManager {
  readonly offered = new Set<string>()
  readonly verified = new Set<string>()
  readonly events = new TypedEventEmitter<Libp2pEvents>()

  addPublicAddressMapping (_ip: string, _port: number, externalIp: string, externalPort: number, protocol: string): void {
    this.offered.add(`/ip4/${externalIp}/${protocol}/${externalPort}`)
  }

  removePublicAddressMapping (_ip: string, _port: number, externalIp: string, externalPort: number, protocol: string): void {
    this.offered.delete(`/ip4/${externalIp}/${protocol}/${externalPort}`)
    this.verified.delete(`/ip4/${externalIp}/${protocol}/${externalPort}`)
  }

  confirmObservedAddr (ma: Multiaddr): void {
    if (this.offered.has(ma.toString())) this.verified.add(ma.toString())
  }

  getAddressesWithMetadata (): Array<{ multiaddr: Multiaddr, type: string, verified: boolean, expires: number, lastVerified?: number }> {
    return [...this.offered].map(a => ({ multiaddr: multiaddr(a), type: 'ip-mapping', verified: this.verified.has(a), expires: Date.now() + 60_000 }))
  }

  /** A peer's dial-back reached `addr`: libp2p marks it verified and says so with 'self:peer:update'. */
  confirm (addr: string): void {
    this.verified.add(addr)
    this.events.safeDispatchEvent('self:peer:update', { detail: {} as Libp2pEvents['self:peer:update']['detail'] })
  }
}

interface Rig { gw: FakeGateway, am: FakeAddressManager, pm: PortMapper }

let rig: Rig | undefined

async function setup (gateway: FakeGatewayInit, init: PortMapperInit = {}): Promise<Rig> {
  const gw = new FakeGateway(gateway)
  await gw.start()
  const am = new FakeAddressManager()
  const transportManager = { getAddrs: () => [multiaddr(LISTEN)] } as unknown as TransportManager
  const pm = new PortMapper({ addressManager: am as unknown as AddressManager, transportManager, events: am.events, logger: defaultLogger() }, {
    gateway: '127.0.0.1',
    gatewayPort: gw.pxpPort,
    // never the real multicast group: SSDP goes to the fake router's socket
    ssdpTarget: gw.ssdpTarget,
    // short lifetimes and checks, so renewals and reboots happen within a test
    lifetimeSeconds: 2,
    checkIntervalMs: 300,
    retransmitMs: [100, 200],
    retryAfterFailureMs: 300,
    ...init
  })
  rig = { gw, am, pm }
  return rig
}

async function next<K extends keyof PortMapperEvents> (pm: PortMapper, type: K): Promise<PortMapperEvents[K]['detail']> {
  const [evt] = await once(pm, type, { signal: AbortSignal.timeout(WAIT_MS) }) as [PortMapperEvents[K]]
  return evt.detail
}

async function until (what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

async function started (r: Rig): Promise<void> {
  await r.pm.start()
  await r.pm.afterStart()
}

beforeEach(() => { rig = undefined })
afterEach(async () => {
  await rig?.pm.stop()
  await rig?.gw.close()
})

describe('PortMapper against a fake router on loopback', () => {
  for (const [only, expected] of [['pcp', 'pcp'], ['nat-pmp', 'nat-pmp'], ['upnp', 'upnp']] as const) {
    it(`maps the listen port over ${only} when the router speaks only ${only}, offers it unconfirmed, announces it after a dial-back, deletes it on stop`, async () => {
      const r = await setup({ protocols: [only] })
      const created = next(r.pm, 'nat:mapping-created')
      await started(r)
      const m = await created
      assert.equal(m.protocol, expected)
      assert.equal(m.internalPort, 4001)
      assert.equal(m.externalIp, '203.0.113.7')
      assert.equal(m.announced, false, 'the router\'s word alone announces nothing')
      const report = r.pm.report()
      assert.equal(report.status, 'mapped')
      assert.equal(report.active, expected)
      assert.equal(report.externalIp, '203.0.113.7')
      assert.equal(r.gw.mappings.size, 1, 'the router holds one mapping')
      const external = `/ip4/203.0.113.7/tcp/${m.externalPort}`
      assert.deepEqual([...r.am.offered], [external], 'offered to the address manager as a candidate')
      assert.equal(r.pm.reachability(), undefined, 'not public before a dial-back')

      const confirmed = next(r.pm, 'nat:mapping-confirmed')
      r.am.confirm(external)
      assert.equal((await confirmed).externalPort, m.externalPort)
      assert.deepEqual(r.pm.reachability(), { reachability: 'public', reachabilitySource: 'port-mapping' })
      assert.equal(r.pm.portMappings()[0]?.confirmed, true)

      await r.pm.stop()
      assert.equal(r.gw.mappings.size, 0, 'stop deletes the mapping on the router')
      assert.equal(r.am.offered.size, 0, 'and withdraws the address')
    })
  }

  it('prefers PCP when the router speaks all three, and reports each protocol it heard', async () => {
    const r = await setup({})
    const created = next(r.pm, 'nat:mapping-created')
    await started(r)
    assert.equal((await created).protocol, 'pcp')
    const answered = Object.fromEntries(r.pm.report().protocols.map(p => [p.protocol, p.answered]))
    assert.equal(answered.pcp, 'yes')
    assert.equal(answered['nat-pmp'], 'yes')
  })

  for (const protocol of ['pcp', 'nat-pmp', 'upnp'] as const) {
    it(`renews a ${protocol} mapping before its lifetime ends, on the same external port, without announcing a new mapping`, async () => {
      const r = await setup({ protocols: [protocol] })
      const created = next(r.pm, 'nat:mapping-created')
      await started(r)
      const first = await created
      const before = r.gw.count(protocol === 'upnp' ? 'upnp:AddPortMapping' : `${protocol}:map`)
      let recreated = 0
      r.pm.addEventListener('nat:mapping-created', () => { recreated++ })
      const renewed = await next(r.pm, 'nat:mapping-renewed')
      assert.equal(renewed.externalPort, first.externalPort)
      assert.equal(renewed.createdAt, first.createdAt, 'a renewal keeps the mapping\'s creation time')
      assert.ok(renewed.renewedAt > first.renewedAt)
      assert.ok(r.gw.count(protocol === 'upnp' ? 'upnp:AddPortMapping' : `${protocol}:map`) > before, 'the router was asked again')
      assert.equal(recreated, 0)
      assert.equal(r.pm.report().status, 'mapped')
      assert.deepEqual([...r.am.offered], [`/ip4/203.0.113.7/tcp/${first.externalPort}`], 'the offered address stays')
    })
  }

  for (const protocol of ['pcp', 'nat-pmp', 'upnp'] as const) {
    it(`after a router reboot (${protocol === 'upnp' ? 'the mapping is gone' : 'the epoch went back'}) reports the mapping lost and maps again`, async () => {
      // lifetimes long enough that only the periodic check can notice the reboot
      const r = await setup({ protocols: [protocol] }, { lifetimeSeconds: 3600 })
      const created = next(r.pm, 'nat:mapping-created')
      await started(r)
      const first = await created
      r.am.confirm(`/ip4/203.0.113.7/tcp/${first.externalPort}`)
      await until('the confirmation', () => r.pm.report().mappings[0]?.announced === true)

      const lost = next(r.pm, 'nat:mapping-lost')
      const again = next(r.pm, 'nat:mapping-created')
      r.gw.reboot()
      assert.match((await lost).reason, /reboot/)
      const m = await again
      assert.equal(m.externalPort, first.externalPort, 'the same external port is asked for again')
      assert.equal(r.gw.mappings.size, 1, 'the router holds the mapping again')
      assert.equal(r.pm.report().status, 'mapped')
      // the same address a dial-back reached within the hour: announced again at once
      await until('the mapping announced again', () => r.pm.report().mappings[0]?.announced === true)
    })
  }

  for (const protocol of ['pcp', 'nat-pmp', 'upnp'] as const) {
    it(`follows a new external address over ${protocol}: withdraws the old one, offers the new one, says what changed`, async () => {
      const r = await setup({ protocols: [protocol] }, { lifetimeSeconds: 3600 })
      const created = next(r.pm, 'nat:mapping-created')
      await started(r)
      const first = await created
      const changed = next(r.pm, 'nat:external-address-changed')
      const again = next(r.pm, 'nat:mapping-created')
      r.gw.externalIp = '198.51.100.9'
      assert.deepEqual(await changed, { previous: '203.0.113.7', current: '198.51.100.9' })
      const m = await again
      assert.equal(m.externalIp, '198.51.100.9')
      assert.equal(r.pm.report().externalIp, '198.51.100.9')
      assert.deepEqual([...r.am.offered], [`/ip4/198.51.100.9/tcp/${m.externalPort}`], `the old /ip4/203.0.113.7/tcp/${first.externalPort} is withdrawn`)
    })
  }

  it('a UPnP router that only does permanent leases (725): mapped without a lease, nothing to renew, deleted on stop', async () => {
    const r = await setup({ protocols: ['upnp'], upnpPermanentOnly: true })
    const created = next(r.pm, 'nat:mapping-created')
    await started(r)
    const m = await created
    assert.equal(m.lifetimeSeconds, 0)
    assert.equal(m.expiresAt, null)
    assert.equal(r.pm.portMappings()[0]?.expiresAt, null)
    assert.equal(r.gw.mappings.get(`tcp/${m.externalPort}`)?.lifetimeSeconds, 0, 'the router holds a permanent mapping')
    await r.pm.stop()
    assert.equal(r.gw.mappings.size, 0, 'a permanent mapping must be deleted on stop, or it stays on the router for good')
  })

  for (const version of [1, 2] as const) {
    it(`a UPnP IGD:${version} where another host holds our external port: mapped on another port${version === 2 ? ' (AddAnyPortMapping)' : ' (conflict 718, then another port)'}`, async () => {
      const r = await setup({ protocols: ['upnp'], upnpVersion: version })
      r.gw.mappings.set('tcp/4001', { protocol: 'tcp', internalClient: '192.168.1.99', internalPort: 4001, externalPort: 4001, lifetimeSeconds: 0, via: 'upnp' })
      const created = next(r.pm, 'nat:mapping-created')
      await started(r)
      const m = await created
      assert.notEqual(m.externalPort, 4001)
      assert.equal(r.gw.mappings.get('tcp/4001')?.internalClient, '192.168.1.99', 'the other host keeps its mapping')
      assert.equal(r.gw.mappings.get(`tcp/${m.externalPort}`)?.internalPort, 4001)
      assert.deepEqual([...r.am.offered], [`/ip4/203.0.113.7/tcp/${m.externalPort}`])
    })
  }

  it('a router whose external address is private is double NAT: nothing is offered', async () => {
    const r = await setup({ protocols: ['nat-pmp'], externalIp: '10.0.0.1' })
    await started(r)
    await until('a verdict', () => !['starting', 'discovering'].includes(r.pm.report().status))
    const report = r.pm.report()
    assert.equal(report.status, 'double-nat')
    assert.equal(report.doubleNat, true)
    assert.equal(r.am.offered.size, 0)
  })

  describe('failures', () => {
    for (const [protocol, code, detail] of [
      ['nat-pmp', 2, /not authorized/],
      ['pcp', 2, /not authorized/],
      ['upnp', 606, /606 Action not authorized/]
    ] as const) {
      it(`${protocol} answering every mapping with error ${code}: status refused, the probe says refused and why, nothing offered`, async () => {
        const r = await setup({ protocols: [protocol] })
        r.gw.fail(protocol, { kind: 'code', code }, 'map')
        await started(r)
        await until('a verdict', () => !['starting', 'discovering'].includes(r.pm.report().status))
        const report = r.pm.report()
        assert.equal(report.status, 'refused')
        assert.equal(report.active, null)
        const probe = report.protocols.find(p => p.protocol === protocol)
        assert.equal(probe?.answered, 'refused')
        assert.match(probe?.detail ?? '', detail)
        assert.match(report.lastError ?? '', detail)
        assert.equal(r.am.offered.size, 0)
      })
    }

    it('a router that answers nothing: no-protocol, every probe says no answer', async () => {
      const r = await setup({ protocols: [] })
      await started(r)
      await until('a verdict', () => !['starting', 'discovering'].includes(r.pm.report().status))
      const report = r.pm.report()
      assert.equal(report.status, 'no-protocol')
      assert.deepEqual(report.protocols.map(p => [p.protocol, p.answered]), [['pcp', 'no'], ['nat-pmp', 'no'], ['upnp', 'no']])
      assert.ok(r.gw.count('pcp:') > 0 && r.gw.count('nat-pmp:') > 0 && r.gw.count('ssdp:') > 0, 'each protocol was asked')
    })

    for (const protocol of ['pcp', 'nat-pmp', 'upnp'] as const) {
      it(`a garbage answer to a ${protocol} mapping request is no mapping: nothing offered, the error names what was wrong`, async () => {
        const r = await setup({ protocols: [protocol] })
        r.gw.fail(protocol, { kind: 'garbage' }, 'map')
        await started(r)
        await until('a verdict', () => !['starting', 'discovering'].includes(r.pm.report().status))
        const report = r.pm.report()
        assert.equal(report.mappings.length, 0)
        assert.equal(r.am.offered.size, 0)
        assert.match(report.lastError ?? '', protocol === 'upnp' ? /no AddPortMappingResponse/ : /bytes/)
        // the router did not refuse anything: "check its settings" would send the user the wrong way
        assert.equal(report.status, 'failed')
        assert.equal(report.protocols.find(p => p.protocol === protocol)?.answered, 'yes')
        assert.match(natAdvice(report, 'private'), /^port mapping failed: /)
      })
    }

    it('stopping while the UPnP search still runs in the background (PCP answered first) leaves no unhandled rejection', async () => {
      const r = await setup({ protocols: ['pcp'] })
      const unhandled: unknown[] = []
      const onUnhandled = (err: unknown): void => { unhandled.push(err) }
      process.on('unhandledRejection', onUnhandled)
      try {
        const created = next(r.pm, 'nat:mapping-created')
        await started(r)
        await created
        assert.ok(r.gw.count('ssdp:M-SEARCH') > 0, 'UPnP is being searched for')
        await r.pm.stop()
        // an unhandled rejection is reported after the microtask queue drains
        await new Promise(resolve => setTimeout(resolve, 100))
      } finally {
        process.off('unhandledRejection', onUnhandled)
      }
      assert.deepEqual(unhandled, [], 'a library user\'s process would crash on it')
    })

    for (const protocol of ['pcp', 'nat-pmp'] as const) {
      it(`a ${protocol} router that falls silent: the mapping is lost at its renewal, the address withdrawn; mapped again once the router answers`, async () => {
        const r = await setup({ protocols: [protocol] })
        const created = next(r.pm, 'nat:mapping-created')
        await started(r)
        const first = await created
        const lost = next(r.pm, 'nat:mapping-lost')
        r.gw.fail(protocol, { kind: 'silent' })
        const why = await lost
        assert.match(why.reason, /no answer/)
        assert.equal(why.externalPort, first.externalPort)
        assert.equal(r.am.offered.size, 0, 'the address is withdrawn')
        await until('the rediscovery', () => r.pm.report().status === 'no-protocol')
        assert.equal(r.pm.report().mappings.length, 0)

        const again = next(r.pm, 'nat:mapping-created')
        r.gw.heal(protocol)
        assert.equal((await again).protocol, protocol)
        assert.equal(r.pm.report().status, 'mapped')
        assert.equal(r.am.offered.size, 1)
      })
    }
  })
})
