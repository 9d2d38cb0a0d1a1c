/**
 * The UDP path's acceptance 2 and 6, end to end with daemons: the UDX punch through one
 * endpoint-dependent ("symmetric", `masquerade random`) NAT by birthday probing, over a stock
 * js-libp2p relay (no STUN on it) with two lab STUN servers, as in cone.test.ts.
 * - cone × symmetric and symmetric × cone (A: the dialled side, B: the dialler) at 0 and 25 ms
 *   one-way: TRIALS trials per cell, fresh homes and daemons, conntrack flushed before the
 *   peers start; messages flow relayed, then `burrow dial --wait-direct` sees the UDX attempt
 *   (method birthday) and the direct connection to the peer's router WAN over
 *   /udp/…/x-burrow-udx, within 15 s of the relayed one; later messages say `via: direct`.
 *   Probes are counted at the cone (probing) side's router with an nft counter for UDP payloads
 *   starting with `BRWP`: ≤ probing.maxProbes per attempt.
 * - one extra trial with small caps (BURROW_PROBING_*): ≤ maxProbes in all, ≤ perSecond + 1 in
 *   any 1 s window, counted at the router.
 * The idle keepalive (acceptance 4) is test/long/udx-idle.test.ts, run beside the others.
 * `--punch udx` on both peers, so the TCP punch cannot be what went direct.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Lab } from '../../lab/dist/index.js'
import type { Home } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { send } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'
import { infra, udxPeer, esc, median, sleep } from './lab-helpers.ts'
import type { Attempt, UdxStatus, Stage } from './lab-helpers.ts'

const TRIALS = Number(process.env.BURROW_UDX_SYM_TRIALS ?? 5)
const NEED = Math.max(1, TRIALS - 1)
const skip = skipReason(['conntrack'])
const DEFAULT_MAX_PROBES = 1500

/** A counter at `cone`'s router for UDP datagrams from its LAN to `toWan` whose payload starts with "BRWP". */
async function probeCounter (cone: Home, toWan: string): Promise<{ read: () => Promise<number>, remove: () => Promise<void> }> {
  const name = `brwp${randomBytes(3).toString('hex')}`
  await cone.router.exec('nft', ['add', 'counter', 'inet', 'filter', name])
  await cone.router.exec('nft', ['insert', 'rule', 'inet', 'filter', 'forward', 'iifname', cone.router.lan, 'ip', 'daddr', toWan,
    'udp', 'dport', '1024-65535', '@th,64,32', '0x42525750', 'counter', 'name', name])
  return {
    read: async () => Number((await cone.router.exec('nft', ['list', 'counter', 'inet', 'filter', name])).stdout.match(/packets (\d+)/)?.[1] ?? NaN),
    remove: async () => {
      await cone.router.applyRules()
      await cone.router.exec('nft', ['delete', 'counter', 'inet', 'filter', name], { allowFailure: true })
    }
  }
}

function stagesOf (stdout: string): Stage[] {
  return stdout.split('\n').filter(l => l.trim().startsWith('{')).map(l => JSON.parse(l) as Stage)
}

describe('UDX path through one symmetric NAT (birthday probing), daemons, stock relay, lab STUN', { skip }, () => {
  let lab: Lab | undefined
  let relayAddr: string
  let stun: string[]
  const report: string[] = []

  before(async () => {
    lab = await Lab.create({ name: 'udx-sym' })
    ;({ relayAddr, stun } = await infra(lab))
  })

  after(async () => {
    if (report.length > 0) console.log(`# UDX birthday cells:\n#   ${report.join('\n#   ')}`)
    await lab?.teardown()
  })

  type Nat = 'cone' | 'symmetric'
  interface Pair { a: LabNode, b: LabNode, ha: Home, hb: Home }
  async function pair (tag: string, natA: Nat, natB: Nat, delayMs: number, env: Record<string, string> = {}): Promise<Pair> {
    const l = lab!
    const ha = await l.addHome(`a${tag}`, { nat: natA, delayMs })
    const hb = await l.addHome(`b${tag}`, { nat: natB, delayMs })
    for (const h of [ha, hb]) await h.router.flushConntrack()
    const a = await udxPeer(l, ha.hosts[0]!, relayAddr, stun, `a${tag}`, env)
    const b = await udxPeer(l, hb.hosts[0]!, relayAddr, stun, `b${tag}`, env)
    await a.waitForStatus(s => s.reservations.length >= 1, 30_000, 'a reservation on the stock relay')
    for (const [n, nat] of [[a, natA], [b, natB]] as const) {
      const st = await n.waitForStatus(s => (s as unknown as UdxStatus).udp.checkedAt != null, 20_000, 'the UDP mapping checked by STUN') as unknown as UdxStatus
      assert.equal(st.udp.mapping, nat === 'cone' ? 'endpoint-independent' : 'endpoint-dependent', `${tag}: the ${nat} NAT's UDP mapping: ${st.udp.reason}`)
    }
    return { a, b, ha, hb }
  }

  interface Trial { ok: boolean, firstVia?: string, relayedToDirectMs?: number, probes?: number, counted: number, why?: string, stages: Stage[] }
  async function trial (tag: string, natA: Nat, natB: Nat, delayMs: number): Promise<Trial> {
    const p = await pair(tag, natA, natB, delayMs)
    const cone = natA === 'cone' ? p.ha : p.hb
    const symWan = natA === 'cone' ? p.hb.router.wanIp : p.ha.router.wanIp
    const counter = await probeCounter(cone, symWan)
    try {
      const before = await counter.read()
      // the dial through the relay, waiting for the direct connection: NDJSON stages
      const dialing = p.b.cli(['dial', `${relayAddr}/p2p-circuit/p2p/${p.a.peerId}`, '--wait-direct', '20', '--json'], { timeoutMs: 45_000, allowFailure: true })
      await p.b.waitForStatus(s => s.connections.some(c => c.peerId === p.a.peerId), 30_000, 'the relayed connection to A')
      // a message as soon as the relayed connection is there (the punch runs in the background)
      const first = await send(p.b, p.a.peerId, `first ${tag}`)
      const r = await dialing
      const stages = stagesOf(r.stdout)
      const relayed = stages.find(s => s.stage === 'relayed')
      const direct = stages.find(s => s.stage === 'direct')
      const st = await p.b.status() as unknown as UdxStatus
      const conn = st.connections.find(c => c.peerId === p.a.peerId && c.direct)
      const counted = (await counter.read()) - before
      const recs = [...st.udp.attempts, ...(await p.a.status() as unknown as UdxStatus).udp.attempts.map(x => ({ ...x, peer: x.peer === p.b.peerId ? p.a.peerId : x.peer }))]
        .filter(x => x.peer === p.a.peerId)
      const probes = recs.reduce((m, x) => Math.max(m, x.probes), 0)
      assert.ok(counted <= DEFAULT_MAX_PROBES, `${tag}: ${counted} probes counted at the router ≤ probing.maxProbes ${DEFAULT_MAX_PROBES}`)
      if (conn == null || direct == null) {
        return { ok: false, counted, probes, why: `no direct: first ${first.via}; stages ${JSON.stringify(stages)}; records ${JSON.stringify(recs)}`, stages }
      }
      assert.ok(relayed != null, `${tag}: the dial gave a relayed connection first: ${JSON.stringify(stages)}`)
      assert.match(conn.remoteAddress, new RegExp(`^/ip4/${esc(p.ha.router.wanIp)}/udp/\\d+/x-burrow-udx/p2p/`), `${tag}: direct to A's router WAN over UDX`)
      const bRec = st.udp.attempts.find(x => x.peer === p.a.peerId && x.outcome === 'direct')
      assert.ok(bRec != null, `${tag}: B recorded the UDX punch: ${JSON.stringify(st.udp.attempts)}`)
      assert.equal(bRec.method, 'birthday', `${tag}: the method is birthday`)
      assert.ok(recs.some(x => x.outcome === 'direct' && x.sockets > 0), `${tag}: the symmetric side's record counts its sockets: ${JSON.stringify(recs)}`)
      assert.ok(recs.some(x => x.outcome === 'direct' && x.probes > 0), `${tag}: the cone side's record counts its probes: ${JSON.stringify(recs)}`)
      assert.ok(counted > 0, `${tag}: the router saw probes`)
      const ms = direct.elapsedMs - (relayed?.elapsedMs ?? 0)
      assert.ok(ms <= 15_000, `${tag}: direct within 15 s of the relayed connection (${ms} ms)`)
      // `burrow dial --wait-direct --json` shows the UDX attempt as its own stage before `direct`
      const udxStage = stages.find(s => s.stage === 'udx-attempt' && s.outcome === 'direct')
      assert.ok(udxStage != null && udxStage.method === 'birthday' && typeof udxStage.probes === 'number' && typeof udxStage.sockets === 'number',
        `${tag}: the NDJSON stages show the UDX attempt: ${JSON.stringify(stages)}`)
      const later = await send(p.b, p.a.peerId, `direct ${tag}`)
      assert.equal(later.via, 'direct', `${tag}: later messages use the direct connection`)
      return { ok: true, relayedToDirectMs: ms, probes, counted, stages, firstVia: first.via }
    } finally {
      await counter.remove()
      await p.b.stop()
      await p.a.stop()
    }
  }

  const cells: Array<[Nat, Nat]> = [['cone', 'symmetric'], ['symmetric', 'cone']]
  for (const [natA, natB] of cells) {
    for (const delayMs of [0, 25]) {
      it(`${natA} (A) × ${natB} (B, dials) at ${delayMs} ms one-way: ≥ ${NEED} of ${TRIALS} direct over UDX within 15 s`, async (t) => {
        const results: Trial[] = []
        for (let i = 1; i <= TRIALS; i++) {
          const r = await trial(`${natA[0]!}${natB[0]!}${delayMs}t${i}`, natA, natB, delayMs)
          results.push(r)
          t.diagnostic(r.ok ? `trial ${i}: first message ${r.firstVia ?? '?'}, direct ${r.relayedToDirectMs ?? '?'} ms after relayed, ${r.probes ?? '?'} probes (router: ${r.counted})` : `trial ${i}: ${r.why ?? ''}`)
        }
        const ok = results.filter(r => r.ok)
        const line = `${natA} × ${natB} ${delayMs} ms: ${ok.length}/${TRIALS} direct, relayed → direct median ${median(ok.map(r => r.relayedToDirectMs!))} ms (${ok.map(r => r.relayedToDirectMs).join(', ')}), probes median ${median(ok.map(r => r.probes!))} (router ${ok.map(r => r.counted).join(', ')})`
        report.push(line)
        t.diagnostic(line)
        assert.ok(ok.length >= NEED, `${line}; failures: ${results.filter(r => !r.ok).map(r => r.why).join(' | ')}`)
      })
    }
  }

  it('probing stays inside small caps (BURROW_PROBING_*), counted at the cone side\'s router', async (t) => {
    const caps = { perSecond: 40, maxProbes: 120 }
    // few sockets on the symmetric side: most attempts run the whole probe budget
    const env = { BURROW_PROBING_PER_SECOND: String(caps.perSecond), BURROW_PROBING_MAX_PROBES: String(caps.maxProbes), BURROW_PROBING_SOCKETS: '16' }
    const p = await pair('caps', 'cone', 'symmetric', 0, env)
    const counter = await probeCounter(p.ha, p.hb.router.wanIp)
    try {
      const samples: Array<{ t: number, n: number }> = [{ t: performance.now(), n: await counter.read() }]
      const dial = p.b.cli(['dial', `${relayAddr}/p2p-circuit/p2p/${p.a.peerId}`, '--json'], { timeoutMs: 30_000, allowFailure: true })
      let rec: Attempt | undefined
      const deadline = Date.now() + 30_000
      while (rec == null && Date.now() < deadline) {
        await sleep(100)
        const before = performance.now()
        samples.push({ t: before, n: await counter.read() })
        if (samples.length % 5 === 0) rec = ((await p.a.status()) as unknown as UdxStatus).udp.attempts.find(x => x.peer === p.b.peerId)
      }
      await dial
      assert.ok(rec != null, 'A recorded the UDX attempt')
      await sleep(500)
      samples.push({ t: performance.now(), n: await counter.read() })
      const total = samples.at(-1)!.n - samples[0]!.n
      let maxPerSecond = 0
      for (let i = 0; i < samples.length; i++) {
        for (let j = i + 1; j < samples.length && samples[j]!.t - samples[i]!.t <= 1000; j++) maxPerSecond = Math.max(maxPerSecond, samples[j]!.n - samples[i]!.n)
      }
      const line = `caps trial: A's record ${rec.method}/${rec.outcome} after ${rec.ms} ms, ${rec.probes} probes; router counted ${total} in all, at most ${maxPerSecond} in any 1 s window (caps ${caps.maxProbes}, ${caps.perSecond}/s)`
      report.push(line)
      t.diagnostic(line)
      assert.equal(rec.method, 'birthday')
      assert.ok(total > 0, 'the counter saw the probes')
      assert.ok(total <= caps.maxProbes, `${total} probes ≤ maxProbes ${caps.maxProbes}`)
      assert.ok(maxPerSecond <= caps.perSecond + 1, `${maxPerSecond} probes in 1 s ≤ ${caps.perSecond}/s + one tick`)
      assert.equal(rec.probes, total, 'A\'s attempt record counts the probes the router saw, failed attempt or not')
    } finally {
      await counter.remove()
      await p.b.stop()
      await p.a.stop()
    }
  })


})
