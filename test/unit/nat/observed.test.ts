// Observed addresses (src/nat/observed.ts): what peers tell us about our own address is
// bounded in memory and aged out, and one peer cannot flip whether we are behind a NAT.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ObservedAddresses } from '../../../src/nat/index.ts'
import type { Observation } from '../../../src/nat/index.ts'

// 127.0.0.1 is one of this host's own addresses; 203.0.113.7 (TEST-NET-3) is none of them
const OURS = '127.0.0.1'
const NOT_OURS = '203.0.113.7'

function obs (observer: string, observerIp: string, ip: string, at = Date.now()): Observation {
  return { observer, observerIp, ip, port: 4001, direction: 'outbound', fromDialPort: true, at }
}

describe('observed addresses', () => {
  it('believes a single observer while it is the only one: a node behind a NAT that knows just its relay', () => {
    const o = new ObservedAddresses()
    assert.equal(o.behindNat(), undefined)
    o.add(obs('relay', '21.0.0.1', NOT_OURS))
    assert.equal(o.behindNat(), true)
  })

  it('does not let one peer, under any number of PeerIds, flip a public node to "behind a NAT"', () => {
    const o = new ObservedAddresses()
    o.add(obs('honest-1', '21.0.0.1', OURS))
    o.add(obs('honest-2', '21.0.0.2', OURS))
    assert.equal(o.behindNat(), false)
    for (let i = 0; i < 5; i++) o.add(obs(`liar-${i}`, '21.0.0.66', NOT_OURS))
    assert.equal(o.behindNat(), false, 'one IP against two')
    o.add(obs('liar-b', '21.0.0.67', NOT_OURS))
    assert.equal(o.behindNat(), false, 'two against two is no majority')
  })

  it('takes the word of two observer IPs that outnumber the rest', () => {
    const o = new ObservedAddresses()
    o.add(obs('a', '21.0.0.1', OURS))
    o.add(obs('b', '21.0.0.2', NOT_OURS))
    assert.equal(o.behindNat(), false, 'one NAT report against one other')
    o.add(obs('c', '21.0.0.3', NOT_OURS))
    assert.equal(o.behindNat(), true)
  })

  it('lets a LAN peer that sees our LAN address not outvote an observer on the internet', () => {
    const o = new ObservedAddresses()
    o.add(obs('relay', '21.0.0.1', NOT_OURS))
    o.add(obs('lan-peer', '192.168.1.20', OURS))
    assert.equal(o.behindNat(), true)
  })

  it('forgets observations after ten minutes and keeps at most 256', () => {
    const o = new ObservedAddresses()
    const old = Date.now() - 11 * 60_000
    for (let i = 0; i < 50; i++) o.add(obs(`old-${i}`, `21.0.1.${i}`, NOT_OURS, old))
    o.add(obs('new', '21.0.0.1', OURS))
    assert.equal(o.size(), 1, 'the stale ones are gone, not just ignored')
    for (let i = 0; i < 1000; i++) o.add(obs(`peer-${i}`, `21.0.${i >> 8}.${i & 255}`, OURS))
    assert.equal(o.size(), 256)
    // the latest reports are the ones kept
    o.add(obs('last', '21.9.9.9', OURS))
    assert.ok(o.candidates().some(c => c.ip === OURS && c.observers === 256))
  })
})

describe('observed addresses: the dial port', () => {
  it('keeps what an observer saw of the dial port when a second connection to it leaves from another port', () => {
    const o = new ObservedAddresses()
    o.add({ ...obs('relay', '21.0.0.1', NOT_OURS), port: 40000 })
    assert.deepEqual(o.candidates().map(c => `${c.ip}:${c.port}`), [`${NOT_OURS}:40000`])
    // the same relay, a second connection from an ephemeral port (TIME_WAIT fallback, or a dial-back)
    o.add({ ...obs('relay', '21.0.0.1', NOT_OURS), port: 51234, fromDialPort: false })
    assert.deepEqual(o.candidates().map(c => `${c.ip}:${c.port}`), [`${NOT_OURS}:40000`], 'the punchable address is still known')
  })
})

/**
 * The one NAT mapping verdict (RFC 4787 §4.1), `status.nat.mapping` and what hole punching
 * reads. A second copy in src/portmap/report.ts keyed on PeerIds, so one host under two
 * PeerIds could decide the verdict alone; it is gone, and its cases live here.
 */
describe('observed addresses: the NAT mapping verdict', () => {
  const seen = (observer: string, observerIp: string, port: number, more: Partial<Observation> = {}): Observation =>
    ({ ...obs(observer, observerIp, NOT_OURS), port, ...more })

  it('one observer cannot tell: unknown', () => {
    const o = new ObservedAddresses()
    o.add(seen('a', '21.1.1.1', 5))
    assert.equal(o.mapping(), 'unknown')
  })

  it('the same public port seen from two observer IPs is endpoint-independent, different ports endpoint-dependent', () => {
    const same = new ObservedAddresses()
    same.add(seen('a', '21.1.1.1', 5))
    same.add(seen('b', '21.1.1.2', 5))
    assert.equal(same.mapping(), 'endpoint-independent')
    const different = new ObservedAddresses()
    different.add(seen('a', '21.1.1.1', 5))
    different.add(seen('b', '21.1.1.2', 6))
    assert.equal(different.mapping(), 'endpoint-dependent')
  })

  it('two PeerIds at one IP are one observer: a single host cannot decide the verdict', () => {
    const o = new ObservedAddresses()
    o.add(seen('a', '21.1.1.1', 5))
    o.add(seen('a-again', '21.1.1.1', 6))
    assert.equal(o.mapping(), 'unknown')
  })

  it('only connections from the dial port count: inbound ones and ephemeral ports say nothing about the mapping of one inside port', () => {
    const o = new ObservedAddresses()
    o.add(seen('a', '21.1.1.1', 5))
    o.add(seen('b', '21.1.1.2', 6, { direction: 'inbound' }))
    o.add(seen('c', '21.1.1.3', 7, { fromDialPort: false }))
    assert.equal(o.mapping(), 'unknown')
  })
})
