// The per-peer upgrade state machine (src/connections/upgrade.ts), driven in-process by
// fake strategies: a relayed connection becomes direct through the first strategy that
// gets there, or fails with a reason per strategy and a backoff; `whyRelayed` says which.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { RELAYED_CLOSED, UpgradeMachine, UpgradeAttemptError, isRelayed, pathOf, relayOf, isCircuitAddress, isLimited } from '../../../src/connections/index.ts'
import type { UpgradeStrategy, UpgradeStrategyName } from '../../../src/connections/index.ts'
import type { Connection } from '@libp2p/interface'

const RELAY = '12D3KooWRelayRelayRelayRelayRelayRelayRelayRelayRe'

function fakeConn (peer: string, addr: string): Connection {
  return { remotePeer: { toString: () => peer }, remoteAddr: multiaddr(addr), status: 'open' } as unknown as Connection
}

function relayedTo (peer: string): Connection {
  return fakeConn(peer, `/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${peer}`)
}

/** A relayed connection that can close: status and the 'close' event, as libp2p's connections have them. */
function closable (conn: Connection): Connection & { close: () => void } {
  const events = new EventTarget()
  const c = conn as Connection & { status: string }
  return Object.assign(c, {
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    close: () => { c.status = 'closed'; events.dispatchEvent(new Event('close')) }
  }) as unknown as Connection & { close: () => void }
}

interface Fake extends UpgradeStrategy {
  started: number
  aborted: boolean
  /** settles the attempt: a direct connection, or the failure reason */
  settle: (outcome: { direct: string } | { fail: string }) => void
}

function fake (name: UpgradeStrategyName, options: { notApplicable?: string, delayMs?: number } = {}): Fake {
  let settle: Fake['settle'] = () => {}
  const s: Fake = {
    name,
    started: 0,
    aborted: false,
    ...(options.delayMs != null ? { delayMs: options.delayMs } : {}),
    settle: (o) => { settle(o) },
    applicable: () => options.notApplicable,
    attempt: async (relayed, signal) => {
      s.started++
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => { s.aborted = true; reject(signal.reason) }, { once: true })
        settle = (o) => {
          if ('direct' in o) resolve({ connection: fakeConn(relayed.remotePeer.toString(), o.direct), record: { via: name } })
          else reject(new UpgradeAttemptError(o.fail, { tried: name }))
        }
      })
    }
  }
  return s
}

async function until (what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  assert.fail(`timed out waiting: ${what}`)
}

describe('the connection-path definitions', () => {
  it('tell relayed, direct, limited and the relay of an address in one place', () => {
    const relayed = relayedTo('PEER')
    assert.equal(isRelayed(relayed), true)
    assert.equal(pathOf(relayed), 'relayed')
    // WebRTC signalled over a relay, then went straight between the peers
    const webrtc = fakeConn('PEER', `/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/PEER`)
    assert.equal(pathOf(webrtc), 'direct')
    assert.equal(isCircuitAddress(webrtc.remoteAddr), true)
    assert.equal(pathOf(fakeConn('PEER', '/ip4/10.0.0.2/tcp/4001')), 'direct')
    assert.equal(relayOf(relayed.remoteAddr), RELAY)
    assert.equal(relayOf('/ip4/10.0.0.2/tcp/4001'), undefined)
    assert.equal(isLimited({ limits: { bytes: 1n } } as unknown as Connection), true)
    assert.equal(isLimited({} as unknown as Connection), false)
  })
})

describe('the upgrade state machine', () => {
  it('races the strategies: the first direct connection wins and the others are aborted', async () => {
    const tcp = fake('tcp')
    const webrtc = fake('webrtc')
    const m = new UpgradeMachine({ strategies: [tcp, webrtc] })
    const result = m.upgrade(relayedTo('A'))
    await until('both strategies started', () => tcp.started === 1 && webrtc.started === 1)
    assert.match(m.whyRelayed('A') ?? '', /^hole punch in progress \(tcp, webrtc\)/)
    webrtc.settle({ direct: '/ip4/10.0.0.2/udp/5000/webrtc' })
    const r = await result
    assert.equal(r.outcome, 'direct')
    assert.equal(r.strategy, 'webrtc')
    assert.equal(r.connection?.remoteAddr.toString(), '/ip4/10.0.0.2/udp/5000/webrtc')
    assert.equal(tcp.aborted, true, 'the losing TCP attempt was aborted')
    assert.equal(m.whyRelayed('A'), undefined)
    assert.equal(m.peer('A')?.state, 'direct')
    const log = m.attempts()
    assert.deepEqual(log.map(a => [a.strategy, a.outcome]).sort(), [['tcp', 'aborted'], ['webrtc', 'direct']])
    assert.deepEqual(log.find(a => a.outcome === 'direct')?.record, { via: 'webrtc' })
  })

  it('a strategy with a head start delay starts later, and does not start at all when another won first', async () => {
    const tcp = fake('tcp')
    const webrtc = fake('webrtc', { delayMs: 60_000 })
    const m = new UpgradeMachine({ strategies: [tcp, webrtc] })
    const result = m.upgrade(relayedTo('A'))
    await until('tcp started', () => tcp.started === 1)
    assert.equal(webrtc.started, 0, 'the delayed strategy waits its head start')
    tcp.settle({ direct: '/ip4/10.0.0.2/tcp/4001' })
    assert.equal((await result).strategy, 'tcp')
    assert.equal(webrtc.started, 0, 'the delayed strategy never ran')
  })

  it('all strategies fail: failed with each reason, backed off, and a second upgrade is not tried', async () => {
    const tcp = fake('tcp')
    const webrtc = fake('webrtc')
    const m = new UpgradeMachine({ strategies: [tcp, webrtc], backoffMs: 60_000 })
    const failed: string[] = []
    m.addEventListener('upgrade:failed', (evt) => { failed.push(evt.detail.reason ?? '') })
    const result = m.upgrade(relayedTo('A'))
    await until('both started', () => tcp.started === 1 && webrtc.started === 1)
    tcp.settle({ fail: 'simultaneous open timed out' })
    webrtc.settle({ fail: 'ICE failed' })
    const r = await result
    assert.equal(r.outcome, 'failed')
    assert.equal(r.reason, 'no direct connection: tcp: simultaneous open timed out; webrtc: ICE failed')
    assert.deepEqual(failed, [r.reason])
    assert.equal(m.whyRelayed('A'), r.reason)
    const state = m.peer('A')
    assert.equal(state?.state, 'failed')
    assert.ok(state?.backoffUntil != null && Date.parse(state.backoffUntil) > Date.now(), 'a backoff is kept')
    assert.deepEqual(m.attempts().map(a => a.record), [{ tried: 'tcp' }, { tried: 'webrtc' }])
    // backed off: no strategy runs again
    const again = await m.upgrade(relayedTo('A'))
    assert.equal(again.outcome, 'backoff')
    assert.equal(tcp.started, 1)
    assert.equal(webrtc.started, 1)
  })

  it('a strategy that is not applicable is skipped, and its reason shows in whyRelayed', async () => {
    const tcp = fake('tcp', { notApplicable: 'our NAT is symmetric' })
    const webrtc = fake('webrtc')
    const m = new UpgradeMachine({ strategies: [tcp, webrtc] })
    const result = m.upgrade(relayedTo('A'))
    await until('webrtc started', () => webrtc.started === 1)
    assert.equal(tcp.started, 0)
    assert.match(m.whyRelayed('A') ?? '', /in progress \(webrtc\); tcp: our NAT is symmetric$/)
    webrtc.settle({ fail: 'ICE failed' })
    await result
    assert.equal(m.whyRelayed('A'), 'no direct connection: tcp: our NAT is symmetric; webrtc: ICE failed')
    // nothing applicable at all: said at once, nothing started
    const none = new UpgradeMachine({ strategies: [fake('tcp', { notApplicable: 'holePunch is off' })] })
    const r = await none.upgrade(relayedTo('B'))
    assert.equal(r.outcome, 'not-applicable')
    assert.equal(none.whyRelayed('B'), 'no direct connection: tcp: holePunch is off')
  })

  it('a peer that disconnects mid-attempt: the attempts are aborted and no backoff holds a later upgrade back', async () => {
    const tcp = fake('tcp')
    const m = new UpgradeMachine({ strategies: [tcp] })
    const first = m.upgrade(relayedTo('A'))
    // a second relayed connection to the same peer joins the upgrade under way
    const joined = m.upgrade(relayedTo('A'))
    await until('tcp started', () => tcp.started === 1)
    m.peerDisconnected('A')
    const r = await first
    assert.equal(r.outcome, 'aborted')
    assert.equal(r.reason, 'the peer disconnected')
    assert.equal((await joined).outcome, 'aborted')
    assert.equal(tcp.aborted, true)
    assert.equal(tcp.started, 1, 'the joined upgrade started no second attempt')
    assert.equal(m.peer('A'), undefined, 'no state and no backoff left for the peer')
    // it comes back: a new upgrade runs at once
    const again = m.upgrade(relayedTo('A'))
    await until('tcp started again', () => tcp.started === 2)
    tcp.settle({ direct: '/ip4/10.0.0.2/tcp/4001' })
    assert.equal((await again).outcome, 'direct')
  })

  it('the relayed connection closes mid-upgrade (a duplicate the connection manager dropped): aborted, nothing backed off, and it runs again over the relayed connection kept', async () => {
    const udx = fake('udx')
    const m = new UpgradeMachine({ strategies: [udx], backoffMs: 60_000 })
    const dropped = closable(relayedTo('A'))
    const first = m.upgrade(dropped)
    await until('udx started', () => udx.started === 1)
    dropped.close()
    const r = await first
    assert.equal(r.outcome, 'aborted')
    assert.equal(r.reason, RELAYED_CLOSED)
    assert.equal(udx.aborted, true)
    assert.equal(m.peer('A'), undefined, 'no failure and no backoff kept')
    const again = m.upgrade(relayedTo('A'))
    await until('udx started over the kept connection', () => udx.started === 2)
    udx.settle({ direct: '/ip4/10.0.0.2/tcp/4001' })
    assert.equal((await again).outcome, 'direct')
    // a connection already closed when the upgrade starts: nothing runs over it
    const closed = closable(relayedTo('B'))
    closed.close()
    assert.equal((await m.upgrade(closed)).reason, RELAYED_CLOSED)
    assert.equal(udx.started, 2)
  })

  it('a strategy the peer made fail is backed off alone: the other strategies still run over the next relayed connection', async () => {
    const tcp = fake('tcp')
    const udx = fake('udx')
    const m = new UpgradeMachine({ strategies: [tcp, udx], backoffMs: 60_000 })
    // the TCP punch the peer drove (we answered) failed three times
    m.peerFailed('A', 'tcp', 'the peer\'s NAT is likely symmetric')
    const result = m.upgrade(relayedTo('A'))
    await until('udx started', () => udx.started === 1)
    assert.equal(tcp.started, 0, 'tcp is backed off')
    assert.match(m.whyRelayed('A') ?? '', /in progress \(udx\); tcp: the peer's NAT is likely symmetric$/)
    udx.settle({ fail: 'no answer to 1500 probes' })
    const r = await result
    assert.equal(r.outcome, 'failed')
    assert.equal(r.reason, 'no direct connection: tcp: the peer\'s NAT is likely symmetric; udx: no answer to 1500 probes')
    // now both failed: backed off, nothing runs
    assert.equal((await m.upgrade(relayedTo('A'))).outcome, 'backoff')
    assert.equal(tcp.started + udx.started, 1)
  })

  it('with no strategy on, whyRelayed says hole punching is off', () => {
    const m = new UpgradeMachine({ strategies: [] })
    assert.match(m.whyRelayed('A') ?? '', /holePunch and udpPunch are off/)
    m.addStrategy(fake('udx'))
    assert.match(m.whyRelayed('A') ?? '', /not started yet/)
    assert.throws(() => { m.addStrategy(fake('udx')) }, /^Error: ERR_DUPLICATE_STRATEGY: /)
  })
})
