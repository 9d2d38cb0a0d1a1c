/**
 * The relay's fairness bookkeeping: what it counts one address as (IPv6: its /64), and
 * how reservations are counted per address until they expire. The end-to-end picture
 * (a real daemon, 130 identities from one IP) is in one-ip.test.ts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ipKey, ReservationLedger } from '../../dist/relay/index.js'

function reservation (): { signal: AbortSignal, expire: () => void } {
  const c = new AbortController()
  return { signal: c.signal, expire: () => { c.abort() } }
}

describe('relay fairness: the address a peer is counted under', () => {
  it('counts an IPv6 /64 as one address, whatever the spelling', () => {
    const key = ipKey('/ip6/2001:db8:1:2::1/tcp/4001')
    assert.equal(key, '2001:db8:1:2::/64')
    for (const a of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:db8:1:2:a:b:c:d', '2001:DB8:1:2::abcd', '2001:db8:1:2::1.2.3.4']) {
      assert.equal(ipKey(`/ip6/${a}/tcp/1`), key, a)
    }
    assert.notEqual(ipKey('/ip6/2001:db8:1:3::1/tcp/4001'), key)
    assert.equal(ipKey('/ip6/::1/tcp/1'), '0:0:0:0::/64')
    assert.equal(ipKey('/ip6/fe80::1%eth0/tcp/1'), 'fe80:0:0:0::/64')
  })

  it('counts an IPv4 address by itself, also when seen as IPv4-mapped IPv6', () => {
    assert.equal(ipKey('/ip4/203.0.113.7/tcp/4001'), '203.0.113.7')
    assert.notEqual(ipKey('/ip4/203.0.113.8/tcp/4001'), '203.0.113.7')
    assert.equal(ipKey('/ip6/::ffff:203.0.113.7/tcp/4001'), '203.0.113.7')
    assert.equal(ipKey('/ip6/::ffff:cb00:7107/tcp/4001'), '203.0.113.7')
  })

  it('has no address for relayed connections and for garbage', () => {
    assert.equal(ipKey('/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK/p2p-circuit'), undefined)
    for (const a of ['/dns4/example.com/tcp/1', '/ip6/1:2:3:4:5:6:7:8:9/tcp/1', '/ip6/1::2::3/tcp/1', '/ip6/12345::/tcp/1', '/ip6/::1.2.3.256/tcp/1', '']) {
      assert.equal(ipKey(a), undefined, a)
    }
  })
})

describe('relay fairness: reservations per address', () => {
  it('admits at most the cap per /64, from many identities, and another /64 still gets one', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(8)
    let admitted = 0
    for (let i = 0; i < 130; i++) {
      // each identity from its own address inside one /64
      const key = ipKey(`/ip6/2001:db8:0:1::${(i + 1).toString(16)}/tcp/4001`) ?? ''
      if (ledger.admit(`peer-${i}`, key)) {
        admitted++
        ledger.settle(`peer-${i}`, reservation())
      }
    }
    assert.equal(admitted, 8)
    assert.equal(ledger.admit('other', ipKey('/ip6/2001:db8:0:2::1/tcp/4001') ?? ''), true)
  })

  it('counts a request from the moment it is admitted, so concurrent ones cannot all pass', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(2)
    assert.equal(ledger.admit('a', '198.51.100.1'), true)
    assert.equal(ledger.admit('b', '198.51.100.1'), true)
    assert.equal(ledger.admit('c', '198.51.100.1'), false)
  })

  it('never refuses a refresh from the holder, and frees the slot when the relay refused or it expired', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(1)
    const r = reservation()
    assert.equal(ledger.admit('a', '198.51.100.1'), true)
    ledger.settle('a', r)
    assert.equal(ledger.admit('a', '198.51.100.1'), true, 'a refresh')
    ledger.settle('a', r)
    assert.equal(ledger.admit('b', '198.51.100.1'), false)
    r.expire()
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.admit('b', '198.51.100.1'), true)
    // the relay refused b (its store was full): b no longer counts
    ledger.settle('b', undefined)
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.size, 0)
  })

  it('keeps counting a reservation its holder left until it expires, and hands it back to the holder', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(1)
    const r = reservation()
    ledger.admit('a', '198.51.100.1')
    ledger.settle('a', r)
    // the holder disconnected (the relay dropped it from its store) and a fresh identity asks
    assert.equal(ledger.admit('fresh', '198.51.100.1'), false)
    assert.equal(ledger.held('a'), r)
    r.expire()
    assert.equal(ledger.held('a'), undefined)
    assert.equal(ledger.admit('fresh', '198.51.100.1'), true)
  })

  it('bounds the reservations it keeps counting after their holders left: the oldest stops counting first', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(1, 2)
    for (const [peer, key] of [['a', '2001:db8:0:1::/64'], ['b', '2001:db8:0:2::/64'], ['c', '2001:db8:0:3::/64']]) {
      ledger.admit(peer ?? '', key ?? '')
      ledger.settle(peer ?? '', reservation())
      ledger.leave(peer ?? '')
    }
    assert.equal(ledger.size, 2)
    assert.equal(ledger.count('2001:db8:0:1::/64'), 0)
    assert.equal(ledger.count('2001:db8:0:3::/64'), 1)
    // a holder that came back is not among those that left
    ledger.admit('b', '2001:db8:0:2::/64')
    ledger.admit('d', '2001:db8:0:4::/64')
    ledger.settle('d', reservation())
    ledger.leave('d')
    assert.equal(ledger.count('2001:db8:0:2::/64'), 1)
    assert.equal(ledger.count('2001:db8:0:3::/64'), 1)
  })

  it('moves a holder that comes back from another address', () => {
    const ledger = new ReservationLedger<{ signal: AbortSignal }>(1)
    ledger.admit('a', '198.51.100.1')
    ledger.settle('a', reservation())
    assert.equal(ledger.admit('a', '198.51.100.2'), true)
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.count('198.51.100.2'), 1)
  })
})
