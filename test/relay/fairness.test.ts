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
  type R = { signal: AbortSignal }
  const clock = (): { now: () => number, advance: (ms: number) => void } => {
    let t = 0
    return { now: () => t, advance: (ms) => { t += ms } }
  }

  it('lets the connected peers of one /64 hold at most maxPerIp, and another /64 still gets one', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 8, perIpPerHour: 60 })
    let admitted = 0
    for (let i = 0; i < 130; i++) {
      // each identity from its own address inside one /64, all staying connected
      const key = ipKey(`/ip6/2001:db8:0:1::${(i + 1).toString(16)}/tcp/4001`) ?? ''
      if (ledger.admit(`peer-${i}`, key) === undefined) {
        admitted++
        ledger.settle(`peer-${i}`, reservation())
      }
    }
    assert.equal(admitted, 8)
    assert.equal(ledger.admit('peer-200', '2001:db8:0:1::/64'), 'per-ip')
    assert.equal(ledger.admit('other', ipKey('/ip6/2001:db8:0:2::1/tcp/4001') ?? ''), undefined)
  })

  it('bounds fresh identities that reserve and leave by the hourly budget, refilled over the hour', () => {
    const c = clock()
    const ledger = new ReservationLedger<R>({ maxPerIp: 8, perIpPerHour: 60, now: c.now })
    const churn = (n: number, from: number): number => {
      let ok = 0
      for (let i = from; i < from + n; i++) {
        if (ledger.admit(`peer-${i}`, '198.51.100.1') !== undefined) continue
        ok++
        ledger.settle(`peer-${i}`, reservation())
        ledger.leave(`peer-${i}`)
      }
      return ok
    }
    assert.equal(churn(130, 0), 60)
    assert.equal(ledger.admit('late', '198.51.100.1'), 'per-hour')
    assert.equal(ledger.count('198.51.100.1'), 0, 'those that left hold nothing')
    c.advance(60_000)
    assert.equal(churn(10, 200), 1, 'one more a minute')
    c.advance(3_600_000)
    assert.equal(churn(130, 300), 60)
    assert.equal(ledger.budget('198.51.100.2'), 60, 'other addresses are not charged')
  })

  it('counts a request from the moment it is admitted, so concurrent ones cannot all pass', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 2, perIpPerHour: 60 })
    assert.equal(ledger.admit('a', '198.51.100.1'), undefined)
    assert.equal(ledger.admit('b', '198.51.100.1'), undefined)
    assert.equal(ledger.admit('c', '198.51.100.1'), 'per-ip')
  })

  it('never refuses or charges a refresh from a connected holder', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 1, perIpPerHour: 1 })
    const r = reservation()
    assert.equal(ledger.admit('a', '198.51.100.1'), undefined)
    ledger.settle('a', r)
    for (let i = 0; i < 5; i++) {
      assert.equal(ledger.admit('a', '198.51.100.1'), undefined, 'a refresh')
      ledger.settle('a', r)
    }
    assert.equal(ledger.count('198.51.100.1'), 1)
  })

  it('frees the slot when the reservation expired or the relay refused it', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 1, perIpPerHour: 60 })
    const r = reservation()
    ledger.admit('a', '198.51.100.1')
    ledger.settle('a', r)
    assert.equal(ledger.admit('b', '198.51.100.1'), 'per-ip')
    r.expire()
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.admit('b', '198.51.100.1'), undefined)
    // the relay refused b (its store was full): b no longer counts
    ledger.settle('b', undefined)
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.size, 0)
  })

  it('keeps the reservation of a holder that left to hand back, at most maxLeft of them, oldest out first', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 8, perIpPerHour: 60, maxLeft: 2 })
    const rs = [reservation(), reservation(), reservation()]
    for (const [i, peer] of ['a', 'b', 'c'].entries()) {
      ledger.admit(peer, '198.51.100.1')
      ledger.settle(peer, rs[i])
      ledger.leave(peer)
    }
    assert.equal(ledger.held('a'), undefined)
    assert.equal(ledger.held('b'), rs[1])
    assert.equal(ledger.held('c'), rs[2])
    // b returns: counted again, and no longer among those that left
    assert.equal(ledger.admit('b', '198.51.100.1'), undefined)
    assert.equal(ledger.count('198.51.100.1'), 1)
    rs[2]?.expire()
    assert.equal(ledger.held('c'), undefined)
    assert.equal(ledger.size, 1)
  })

  it('moves a holder that comes back from another address', () => {
    const ledger = new ReservationLedger<R>({ maxPerIp: 1, perIpPerHour: 60 })
    ledger.admit('a', '198.51.100.1')
    ledger.settle('a', reservation())
    assert.equal(ledger.admit('a', '198.51.100.2'), undefined)
    assert.equal(ledger.count('198.51.100.1'), 0)
    assert.equal(ledger.count('198.51.100.2'), 1)
  })

  it('remembers at most maxKeys budgets: refilled ones go first, then the oldest', () => {
    const c = clock()
    const ledger = new ReservationLedger<R>({ maxPerIp: 8, perIpPerHour: 1, maxKeys: 2, now: c.now })
    assert.equal(ledger.admit('a', '198.51.100.1'), undefined)
    assert.equal(ledger.admit('b', '198.51.100.2'), undefined)
    assert.equal(ledger.budget('198.51.100.1'), 0)
    assert.equal(ledger.admit('c', '198.51.100.3'), undefined)
    // the oldest spent budget was forgotten to stay within maxKeys; the newer one is kept
    assert.equal(ledger.budget('198.51.100.1'), 1)
    assert.equal(ledger.budget('198.51.100.2'), 0)
  })
})
