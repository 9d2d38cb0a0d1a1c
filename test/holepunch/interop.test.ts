/**
 * Issue 16: DCUtR with peers that follow the spec and go-libp2p/rust-libp2p's current
 * behaviour (roles A client / B server, a new stream per attempt), and with legacy peers
 * (go ≤ 0.40, burrow 0.1: B client / A server). The other side is spec-peer.ts — bare
 * js-libp2p with hand-written DCUtR frames — in its own cone home; burrow runs in another.
 * Every trial is a fresh spec peer (new PeerId, new dial port).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, statusOf, debugEnv, startSpec } from './helpers.ts'
import { startBurrow } from '../../lab/dist/index.js'
import type { LabNode, Status, SpecProc, Attempt, SpecEvent as Event } from './helpers.ts'
import type { LabHost } from '../../lab/dist/index.js'

const TRIALS = Number(process.env.BURROW_INTEROP_TRIALS ?? 10)
const skip = skipReason()

function attemptsWith (s: Status, peer: string): Attempt[] {
  return (s.holePunch.attempts as unknown as Attempt[]).filter(a => a.peer === peer)
}

describe('DCUtR interop with spec-following and legacy peers (cone × cone)', { skip }, () => {
  let lab: Lab
  let relay: LabNode
  let unlimited: SpecProc
  let burrow: LabNode
  let specHost: LabHost

  before(async () => {
    lab = await Lab.create({ name: 'dcutr-interop' })
    const relayHost = await lab.addPublicHost('relay')
    const unlimitedHost = await lab.addPublicHost('relay2')
    const homeA = await lab.addHome('a', { nat: 'cone' })
    const homeB = await lab.addHome('b', { nat: 'cone' })
    specHost = homeB.hosts[0]!
    relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    unlimited = await startSpec(lab, unlimitedHost, 'relay2', ['--serve-relay', '--dial-port', '0'])
    const unlimitedAddr = `/ip4/${unlimitedHost.ip}/tcp/4001/p2p/${unlimited.peerId}`
    burrow = await startPeer(lab, homeA.hosts[0]!, [relay.multiaddr, unlimitedAddr], 'burrow')
    await waitReachableByPeerId(burrow, 2, 60_000)
    ;(globalThis as { unlimitedAddr?: string }).unlimitedAddr = unlimitedAddr
  })
  after(async () => { await lab?.teardown() })

  /**
   * One trial: a fresh spec peer started with `flags` (and, as A, burrow dialling it through
   * the relay first); waits for both ends to see the direct connection and burrow's record.
   */
  async function trial (name: string, n: number, flags: string[], dialIt: boolean): Promise<{ spec: SpecProc, direct: Event, mine: Attempt }> {
    const spec = await startSpec(lab, specHost, `${name}-${n}`, flags)
    try {
      if (dialIt) await burrow.cliJson(['dial', `${relay.multiaddr}/p2p-circuit/p2p/${spec.peerId}`], { timeoutMs: 30_000 })
      const direct = await spec.waitFor(e => e.event === 'direct', 40_000, 'a direct connection')
      const st = await burrow.waitForStatus(s => (s as unknown as Status).connections.some(c => c.peerId === spec.peerId && c.direct), 40_000, 'the direct connection in status') as unknown as Status
      const mine = attemptsWith(st, spec.peerId).find(a => a.outcome === 'direct')
      assert.ok(mine != null, `trial ${n}: burrow recorded the punch: ${JSON.stringify(attemptsWith(st, spec.peerId))}`)
      return { spec, direct, mine }
    } catch (err) {
      await spec.stop()
      throw err
    }
  }

  /** The spec peer reserves on the relay and burrow dials it there: the spec peer is B, burrow A. */
  async function trialSpecAsB (roles: string, n: number, extra: string[] = []): Promise<{ spec: SpecProc, direct: Event, mine: Attempt }> {
    return trial(`specB-${roles}`, n, ['--roles', roles, '--relay', relay.multiaddr, '--reserve', ...extra], true)
  }

  /** The spec peer dials burrow through the relay: the spec peer is A, burrow B. */
  async function trialSpecAsA (roles: string, n: number, via = relay.multiaddr, extra: string[] = []): Promise<{ spec: SpecProc, direct: Event, mine: Attempt }> {
    return trial(`specA-${roles}`, n, ['--roles', roles, '--relay', via, '--dial', `${via}/p2p-circuit/p2p/${burrow.peerId}`, ...extra], false)
  }

  it(`spec peer as B, burrow as A: direct ${TRIALS}/${TRIALS}, burrow (A) initiates the handshake`, async () => {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const { spec, direct, mine } = await trialSpecAsB('spec', trial)
      await spec.stop()
      assert.equal(mine.role, 'responder', 'burrow answered the DCUtR stream (A)')
      assert.equal(mine.handshake, 'initiator', `trial ${trial}: burrow (A) is the Noise initiator`)
      assert.equal(direct.handshake, 'responder', `trial ${trial}: the spec peer (B) is the Noise responder`)
      assert.equal(mine.attempt, 1, `trial ${trial}: the first attempt went direct`)
      assert.equal(mine.upgrade, 'standard', `trial ${trial}: a peer that is not burrow gets the standard libp2p upgrade (multistream-select for /noise)`)
    }
  })

  it(`spec peer as A, burrow as B: direct ${TRIALS}/${TRIALS}, the spec peer (A) initiates the handshake`, async () => {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const { spec, direct, mine } = await trialSpecAsA('spec', trial)
      await spec.stop()
      assert.equal(mine.role, 'initiator', 'burrow opened the DCUtR stream (B)')
      assert.equal(mine.handshake, 'responder', `trial ${trial}: burrow (B) is the Noise responder`)
      assert.equal(direct.handshake, 'initiator', `trial ${trial}: the spec peer (A) is the Noise initiator`)
      assert.equal(mine.attempt, 1, `trial ${trial}: the first attempt went direct`)
      assert.equal(mine.upgrade, 'standard', `trial ${trial}: a peer that is not burrow gets the standard libp2p upgrade`)
    }
  })

  it(`legacy peer (go ≤ 0.40 roles) as B and as A: direct by the legacy-role fallback (once the peer showed them, or on the last attempt), ${TRIALS}/${TRIALS} each way`, async () => {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const b = await trialSpecAsB('legacy', trial)
      await b.spec.stop()
      assert.equal(b.direct.handshake, 'initiator', `trial ${trial}: the legacy B is the client`)
      assert.equal(b.mine.handshake, 'responder', `trial ${trial}: burrow (A) took the server role`)
      assert.ok(b.mine.attempt >= 2, `trial ${trial}: a later attempt went direct (attempt ${b.mine.attempt})`)
      const a = await trialSpecAsA('legacy', trial)
      await a.spec.stop()
      assert.equal(a.direct.handshake, 'responder', `trial ${trial}: the legacy A is the server`)
      assert.equal(a.mine.handshake, 'initiator', `trial ${trial}: burrow (B) took the client role`)
      assert.ok(a.mine.attempt >= 2, `trial ${trial}: a later attempt went direct (attempt ${a.mine.attempt})`)
    }
  })

  /**
   * The spec peer, as the server of the upgrade, holds it for a second once the punched
   * socket is up and counts what burrow (the Noise initiator) sent before any answer:
   * multistream-select's header and the /noise proposal alone (28 bytes) when the upgrade is
   * the standard one (spec peer as B, burrow A the client); the same with Noise's first
   * message behind it when the peer's CONNECT asked for burrow's fast upgrade (lazy select:
   * no round trip for /noise). The fast upgrade's roles make B the client, so there the spec
   * peer is A and takes the server's role (`--roles legacy`), as a burrow A would.
   */
  it('burrow selects /noise lazily (Noise\'s first message in its first flight) only with a peer whose CONNECT asked for the fast upgrade', async () => {
    const MSS_PROPOSAL = 1 + '/multistream/1.0.0\n'.length + 1 + '/noise\n'.length
    for (const claim of [true, false]) {
      const hold = ['--hold-upgrade-ms', '1000']
      const { spec, mine } = claim ? await trialSpecAsA('legacy', 1, relay.multiaddr, [...hold, '--claim-fast']) : await trialSpecAsB('spec', 2, hold)
      const early = spec.events().filter(e => e.event === 'early-bytes').map(e => e.bytes as number)
      await spec.stop()
      assert.ok(early.length > 0, `the spec peer held its upgrade (claim ${claim})`)
      assert.equal(mine.handshake, 'initiator', `burrow (${claim ? 'B' : 'A'}) is the Noise initiator`)
      assert.equal(mine.attempt, 1, 'the first attempt went direct')
      if (claim) {
        assert.ok(early.some(n => n > MSS_PROPOSAL), `burrow sent Noise's first message without waiting for the multistream-select answer: ${JSON.stringify(early)}`)
        assert.equal(mine.upgrade, 'fast', 'both CONNECTs asked for the fast upgrade')
      } else {
        assert.equal(mine.upgrade, 'standard', 'a peer that did not ask gets the standard upgrade')
        assert.ok(early.every(n => n === MSS_PROPOSAL), `burrow waited for the answer to its /noise proposal: ${JSON.stringify(early)}`)
      }
    }
  })

  it('a spec peer that opens a new stream per attempt gets all 3 attempts answered', async () => {
    const spec = await startSpec(lab, specHost, 'specB-nodial', ['--roles', 'spec', '--relay', relay.multiaddr, '--reserve', '--no-dial'])
    try {
      await burrow.cliJson(['dial', `${relay.multiaddr}/p2p-circuit/p2p/${spec.peerId}`], { timeoutMs: 30_000 })
      await spec.waitFor(e => e.event === 'gave-up', 60_000, 'the end of its 3 attempts')
      const exchanges = spec.events().filter(e => e.event === 'exchange' && e.role === 'B')
      assert.deepEqual(exchanges.map(e => e.answered), [true, true, true], `3 exchanges, each answered on its own stream: ${JSON.stringify(exchanges)}`)
      // each answered exchange ends in burrow's punch dial (up to 5 s without an answer), then its record
      await burrow.waitForStatus(s => attemptsWith(s as unknown as Status, spec.peerId).filter(a => a.role === 'responder').length === 3, 20_000, '3 answered attempts recorded')
    } finally {
      await spec.stop()
    }
  })

  it('a CONNECT with 20 addresses, the TCP one last, still yields a TCP punch', async () => {
    const { spec, mine } = await trialSpecAsB('spec', 1, ['--pad-addresses', '19'])
    await spec.stop()
    assert.match(mine.detail, /\/tcp\//, 'the punch went to the TCP address')
  })

  it('a relay that grants unlimited circuits: status says relayed until the upgrade, then the punch goes direct', async () => {
    const via = (globalThis as { unlimitedAddr?: string }).unlimitedAddr ?? ''
    const spec = await startSpec(lab, specHost, 'specA-unlimited', ['--roles', 'spec', '--relay', via, '--dial', `${via}/p2p-circuit/p2p/${burrow.peerId}`, '--answer-delay-ms', '3000'])
    try {
      // burrow (B) has sent its CONNECT; the spec peer holds its answer for 3 s
      await spec.waitFor(e => e.event === 'connect-received', 30_000, 'burrow\'s CONNECT')
      const during = await statusOf(burrow)
      const conn = during.connections.find(c => c.peerId === spec.peerId)
      assert.ok(conn != null, 'burrow has a connection to the spec peer')
      assert.equal(conn.direct, false, `the unlimited circuit is shown as relayed: ${JSON.stringify(conn)}`)
      assert.match(conn.remoteAddress, /\/p2p-circuit/)
      await spec.waitFor(e => e.event === 'direct', 30_000, 'a direct connection')
      await burrow.waitForStatus(s => (s as unknown as Status).connections.some(c => c.peerId === spec.peerId && c.direct), 40_000, 'the direct connection in status')
    } finally {
      await spec.stop()
    }
  })
})
