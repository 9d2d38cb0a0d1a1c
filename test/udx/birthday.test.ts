// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- udx-native ships no types; ours live in src/udx
/// <reference path="../../src/udx/udx-native.d.ts" />
// Issue 15: birthday probing through an endpoint-dependent ("symmetric", `masquerade random`)
// NAT. In the lab (root): a cone router and a symmetric router, two plain Node processes (no
// libp2p) that find a socket pair and run a UDX stream over it, and the caps counted at the
// prober's router. Without root: the same functions on loopback, for validation and budgets.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, readFileSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import UDX from 'udx-native'
import { loadConfig } from '../../dist/config/index.js'
import { Lab, LAB_STUN_PORT, startLabStun } from '../../lab/dist/index.js'
import {
  DatagramDemux, DEFAULT_PROBE_BUDGET, DEFAULT_PROBE_CAPS, ProbeBudget, probeBudgetFromConfig, probeCapsFromConfig, UdxPunchError, encodeProbe, hitProbability, openBirthdaySockets, probeRandomPorts
} from '../../dist/udx/index.js'
import { ip, jsonLines, port, skipReason, until, waitForKey } from '../lab/helpers.ts'
import type { Home, LabHost, LabProcess } from '../../lab/dist/index.js'
import type { ProbeCaps } from '../../dist/udx/index.js'

const PEER = fileURLToPath(new URL('./birthday-peer.ts', import.meta.url))
const TRIALS = Number(process.env.BURROW_BDAY_TRIALS ?? 5)
const DELAY_MS = 25

/** UDP sockets the process holds: its socket fds whose inodes are in its namespace's UDP tables. */
function udpSocketsOf (pid: number): number {
  const fds = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)
      if (m?.[1] !== undefined) fds.add(m[1])
    } catch {}
  }
  let n = 0
  for (const table of ['udp', 'udp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9]
      if (inode !== undefined && fds.has(inode)) n++
    }
  }
  return n
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!
}

/** The first printed object having `key`, or undefined. */
function lineWith<T> (proc: LabProcess, key: string): T | undefined {
  const found = jsonLines(proc.recentOutput).find(o => key in o)
  return found?.[key] as T | undefined
}

describe('birthday probing through a symmetric NAT (lab)', { skip: skipReason(['conntrack']) }, () => {
  let lab: Lab
  let stunHost: LabHost
  let cone: Home
  let sym: Home
  let stun: string

  before(async () => {
    lab = await Lab.create({ name: 'bday' })
    stunHost = await lab.addPublicHost('stun')
    cone = await lab.addHome('cone', { nat: 'cone' })
    sym = await lab.addHome('sym', { nat: 'symmetric' })
    await startLabStun(stunHost)
    stun = `${stunHost.ip}:${LAB_STUN_PORT}`
  })

  after(async () => {
    await lab?.teardown()
  })

  async function peer (host: LabHost, args: Record<string, unknown>, logName: string): Promise<LabProcess> {
    return lab.spawn(host, process.execPath, [PEER, JSON.stringify(args)], { logName })
  }

  /** Starts the cone side and learns its public address by STUN. */
  async function startProber (args: Record<string, unknown>, logName: string): Promise<{ proc: LabProcess, pub: string }> {
    const proc = await peer(cone.hosts[0]!, { role: 'probe', stun, remoteHost: sym.router.wanIp, ...args }, logName)
    const pub = await waitForKey<string>(proc, 'public', 15_000)
    assert.equal(ip(pub), cone.router.wanIp, 'STUN saw the cone router\'s public address')
    return { proc, pub }
  }

  interface Trial { probes: number, ms: number, echoMs: number, sockets: number }

  /** One attempt: `a` initiates (sends the echo bytes); the symmetric side always opens the sockets, the cone side probes. */
  async function trial (a: 'cone' | 'sym', name: string): Promise<Trial> {
    const nonce = randomBytes(16).toString('hex')
    const procs: LabProcess[] = []
    try {
      const { proc: prober, pub } = await startProber({ nonce, caps: DEFAULT_PROBE_CAPS, initiator: a === 'cone' }, `${name}-cone`)
      procs.push(prober)
      const opener = await peer(sym.hosts[0]!, { role: 'open', remote: pub, nonce, caps: DEFAULT_PROBE_CAPS, initiator: a === 'sym' }, `${name}-sym`)
      procs.push(opener)
      assert.equal(await waitForKey<number>(opener, 'armed', 15_000), DEFAULT_PROBE_CAPS.sockets)
      prober.signal('SIGUSR2')
      await Promise.all(procs.map(async p => p.waitForOutput(/"(done|fatal)"/, 40_000)))
      const ph = lineWith<{ remote: string, probes: number, ms: number }>(prober, 'hit')
      const oh = lineWith<{ remote: string, winnerIsMain: boolean }>(opener, 'hit')
      assert.ok(ph !== undefined && oh !== undefined, `both sides found the pair: cone ${JSON.stringify(lineWith(prober, 'error'))}, sym ${JSON.stringify(lineWith(opener, 'error'))}`)
      assert.equal(ip(ph.remote), sym.router.wanIp, 'the ACK came from the symmetric router\'s public address')
      assert.equal(oh.remote, pub, 'the probe came from the cone side\'s STUN-learned address')
      assert.equal(oh.winnerIsMain, false, 'the winner is one of the extra sockets')
      for (const p of procs) {
        const e = lineWith<{ ok: boolean, bytes: number, ms: number }>(p, 'echo')
        assert.ok(e?.ok === true && e.bytes === 65536, `${p.name}: echoed 64 KiB over UDX: ${JSON.stringify(e)}`)
      }
      // the low-TTL datagrams opened the symmetric router's mappings without reaching the cone host
      assert.equal(lineWith<number>(prober, 'keepalivesSeen'), 0, 'no low-TTL datagram reached the cone host')
      // the opener kept its main socket and the winner: every other probe socket is closed
      const sockets = udpSocketsOf(opener.pid)
      assert.equal(sockets, 2, 'the symmetric side holds its main socket and the winning one')
      const flows = await sym.router.flowsBetween(sym.router.wanIp, cone.router.wanIp)
      assert.ok(flows.some(f => f.protocol === 'udp'), 'the router\'s conntrack shows the direct UDP flow between the WAN addresses')
      const echoMs = lineWith<{ ms: number }>(a === 'cone' ? prober : opener, 'echo')?.ms ?? NaN
      return { probes: ph.probes, ms: ph.ms, echoMs, sockets }
    } finally {
      for (const p of procs) await p.stop()
    }
  }

  const cells: Array<{ a: 'cone' | 'sym', delay: number }> = [
    { a: 'cone', delay: 0 }, { a: 'sym', delay: 0 }, { a: 'cone', delay: DELAY_MS }, { a: 'sym', delay: DELAY_MS }
  ]
  for (const { a, delay } of cells) {
    const label = `${a === 'cone' ? 'cone × symmetric' : 'symmetric × cone'}, ${delay} ms one-way on each WAN link`
    const delaySkip = delay > 0 && skipReason(['iptables', 'gcc']) !== undefined ? 'needs the delay element (iptables, gcc) or netem' : false
    it(`${label}: a socket pair and a UDX echo both ways, ≥ ${TRIALS - 1} of ${TRIALS}`, { skip: delaySkip }, async (t) => {
      await cone.router.setDelay(delay)
      await sym.router.setDelay(delay)
      try {
        const ok: Trial[] = []
        const failures: string[] = []
        for (let n = 1; n <= TRIALS; n++) {
          try {
            const r = await trial(a, `${a}-${delay}ms-${n}`)
            ok.push(r)
            t.diagnostic(`trial ${n}: direct after ${r.probes} probes, ${r.ms} ms probing, echo ${r.echoMs} ms`)
          } catch (err) {
            failures.push(`trial ${n}: ${(err as Error).message}`)
            t.diagnostic(`trial ${n}: FAILED ${(err as Error).message}`)
          }
        }
        t.diagnostic(`${label}: ${ok.length}/${TRIALS} direct; probes median ${median(ok.map(r => r.probes))} (max ${Math.max(...ok.map(r => r.probes))}); probing median ${median(ok.map(r => r.ms))} ms; logs ${lab.logDir}`)
        assert.ok(ok.length >= TRIALS - 1, `${ok.length}/${TRIALS} direct: ${failures.join('; ')}`)
      } finally {
        await cone.router.setDelay(0)
        await sym.router.setDelay(0)
      }
    })
  }

  it('the low TTL: 1 dies inside our own router (no mapping), the default 2 opens one mapping per socket and stops at the peer\'s router', async (t) => {
    const target = `${cone.router.wanIp}:40000`
    // packets from the symmetric router's public address arriving at the cone router (its INPUT: nothing is mapped there)
    const counter = `ttl${randomBytes(3).toString('hex')}`
    await cone.router.exec('nft', ['add', 'counter', 'inet', 'filter', counter])
    await cone.router.exec('nft', ['insert', 'rule', 'inet', 'filter', 'input', 'ip', 'saddr', sym.router.wanIp, 'udp', 'dport', '40000', 'counter', 'name', counter])
    const arrived = async (): Promise<number> => Number((await cone.router.exec('nft', ['list', 'counter', 'inet', 'filter', counter])).stdout.match(/packets (\d+)/)?.[1] ?? NaN)
    const mappings = async (): Promise<number> => (await sym.router.flows())
      .filter(f => f.protocol === 'udp' && f.orig.dst === cone.router.wanIp && f.orig.dport === 40000).length
    const caps: ProbeCaps = { probesPerSecond: 1, maxProbes: 1, sockets: 16, timeoutMs: 2_000 }
    const seen: Record<number, { mappings: number, atPeerRouter: number }> = {}
    try {
      for (const lowTtl of [1, 2]) {
        await sym.router.flushConntrack()
        const before = await arrived()
        const p = await peer(sym.hosts[0]!, { role: 'open', remote: target, nonce: randomBytes(16).toString('hex'), caps, lowTtl, initiator: false }, `ttl-${lowTtl}`)
        try {
          await waitForKey(p, 'armed', 15_000)
          await new Promise(resolve => setTimeout(resolve, 200))
          seen[lowTtl] = { mappings: await mappings(), atPeerRouter: await arrived() - before }
        } finally {
          await p.stop()
        }
      }
    } finally {
      await cone.router.applyRules()
      await cone.router.exec('nft', ['delete', 'counter', 'inet', 'filter', counter], { allowFailure: true })
    }
    t.diagnostic(`TTL 1: ${seen[1]!.mappings} mappings, ${seen[1]!.atPeerRouter} at the peer's router; TTL 2: ${seen[2]!.mappings} mappings, ${seen[2]!.atPeerRouter} at the peer's router (adjacent in the lab) and none past it`)
    assert.equal(seen[1]!.mappings, 0, 'TTL 1 opens no mapping')
    assert.equal(seen[2]!.mappings, caps.sockets, 'TTL 2 opens one mapping per socket')
  })

  it('probing stays inside its caps, counted at the prober\'s router; every probe socket is closed on timeout', async (t) => {
    const caps: ProbeCaps = { probesPerSecond: 40, maxProbes: 100, sockets: 64, timeoutMs: 8_000 }
    // a counter in the cone router's forward path for UDP datagrams whose payload starts with "BRWP"
    const counter = `bday${randomBytes(3).toString('hex')}`
    await cone.router.exec('nft', ['add', 'counter', 'inet', 'filter', counter])
    await cone.router.exec('nft', ['insert', 'rule', 'inet', 'filter', 'forward', 'iifname', cone.router.lan, 'ip', 'daddr', sym.router.wanIp,
      'udp', 'dport', '1024-65535', '@th,64,32', '0x42525750', 'counter', 'name', counter])
    const readCounter = async (): Promise<number> => {
      const r = await cone.router.exec('nft', ['list', 'counter', 'inet', 'filter', counter])
      return Number(r.stdout.match(/packets (\d+)/)?.[1] ?? NaN)
    }
    const nonce = randomBytes(16).toString('hex')
    const procs: LabProcess[] = []
    try {
      // nobody answers: the symmetric side opens sockets toward an address the prober does not use
      const { proc: prober, pub } = await startProber({ nonce, caps, initiator: true }, 'caps-cone')
      procs.push(prober)
      const opener = await peer(sym.hosts[0]!, { role: 'open', remote: `${cone.router.wanIp}:${port(pub) === 9 ? 10 : 9}`, nonce, caps, initiator: false }, 'caps-sym')
      procs.push(opener)
      assert.equal(await waitForKey<number>(opener, 'armed', 15_000), caps.sockets)
      assert.equal(udpSocketsOf(opener.pid), caps.sockets + 1, 'while armed: the main socket and every probe socket are open')
      assert.equal(udpSocketsOf(prober.pid), 1, 'the prober uses its one main socket')

      const samples: Array<{ t: number, n: number }> = [{ t: performance.now(), n: await readCounter() }]
      prober.signal('SIGUSR2')
      while (lineWith(prober, 'done') === undefined && samples.length < 400) {
        await new Promise(resolve => setTimeout(resolve, 100))
        const before = performance.now()
        const n = await readCounter()
        // the reading happened somewhere inside [before, after]: keep the earliest time, so windows only get shorter
        samples.push({ t: before, n })
      }
      const error = lineWith<{ code: string, message: string }>(prober, 'error')
      assert.equal(error?.code, 'PROBE_TIMEOUT', `the prober gave up: ${JSON.stringify(error)}`)
      t.diagnostic(`prober: ${error.code}: ${error.message}`)
      const total = samples.at(-1)!.n - samples[0]!.n
      // the widest count in any window of ≤ 1 s between two readings
      let maxPerSecond = 0
      for (let i = 0; i < samples.length; i++) {
        for (let j = i + 1; j < samples.length && samples[j]!.t - samples[i]!.t <= 1000; j++) {
          maxPerSecond = Math.max(maxPerSecond, samples[j]!.n - samples[i]!.n)
        }
      }
      t.diagnostic(`router counted ${total} probes in all, at most ${maxPerSecond} in any 1 s window (caps: ${caps.maxProbes} in all, ${caps.probesPerSecond}/s)`)
      assert.ok(total > 0, 'the counter saw the probes')
      assert.ok(total <= caps.maxProbes, `${total} probes ≤ maxProbes ${caps.maxProbes}`)
      assert.ok(maxPerSecond <= caps.probesPerSecond + 1, `${maxPerSecond} probes in 1 s ≤ ${caps.probesPerSecond}/s + one tick`)
      assert.equal(udpSocketsOf(prober.pid), 1, 'after the timeout the prober holds only its main socket')

      const openerError = await until('the symmetric side to give up', async () => lineWith<{ code: string }>(opener, 'error'), 15_000)
      assert.equal(openerError.code, 'PROBE_TIMEOUT')
      await opener.waitForOutput(/"done"/, 5_000)
      assert.equal(udpSocketsOf(opener.pid), 1, 'after the timeout every probe socket is closed: only the main socket is left')
    } finally {
      for (const p of procs) await p.stop()
      await cone.router.applyRules()
      await cone.router.exec('nft', ['delete', 'counter', 'inet', 'filter', counter], { allowFailure: true })
    }
  })
})

describe('birthday probing on loopback (no NAT)', () => {
  const caps: ProbeCaps = { probesPerSecond: 100, maxProbes: 64512, sockets: 64, timeoutMs: 60_000 }

  it('the probing.* config defaults are the documented caps and budget', async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'burrow-bday-'))
    t.after(() => { rmSync(home, { recursive: true, force: true }) })
    const c = await loadConfig({ home })
    assert.deepEqual(probeCapsFromConfig(c.probing), DEFAULT_PROBE_CAPS)
    const budget = probeBudgetFromConfig(c.probing)
    assert.deepEqual([budget.probesPerSecond, budget.maxSockets], [DEFAULT_PROBE_BUDGET.probesPerSecond, DEFAULT_PROBE_BUDGET.maxSockets])
    await assert.rejects(loadConfig({ home, env: { BURROW_PROBING_PER_SECOND: '500' } }), { name: 'InvalidConfigError' })
  })

  it('the maths: 256 sockets give ~50 % after 175 probes and ~98 % after 984', () => {
    assert.ok(Math.abs(hitProbability(256, 175) - 0.5) < 0.01)
    assert.ok(Math.abs(hitProbability(256, 984) - 0.98) < 0.005)
    assert.ok(hitProbability(256, DEFAULT_PROBE_CAPS.maxProbes) > 0.99)
  })

  it('the opener answers only a well-formed PROBE with its nonce from the expected IP; the winner is kept, the rest closed', async () => {
    const udx = new UDX()
    const peerSocket = udx.createSocket()
    peerSocket.bind(0, '127.0.0.1')
    const impostor = udx.createSocket()
    impostor.bind(0, '127.0.0.2')
    const nonce = randomBytes(16)
    const acks: Array<{ port: number, buf: Buffer }> = []
    peerSocket.on('message', (buf, from) => { acks.push({ port: from.port, buf }) })
    const budget = new ProbeBudget({ probesPerSecond: 100, maxSockets: 64 })
    let ports: number[] = []
    const controller = new AbortController()
    try {
      const attempt = openBirthdaySockets(udx, { host: '127.0.0.1', port: peerSocket.address()!.port }, nonce, caps, controller.signal, {
        budget
      })
      // the opener's ports: its low-TTL datagrams arrive from them (TTL 2 is plenty on loopback)
      await until('the keepalives', async () => acks.length >= caps.sockets ? true : undefined, 5000, 20)
      ports = [...new Set(acks.map(a => a.port))]
      assert.equal(ports.length, caps.sockets)
      assert.equal(budget.status().openSockets, caps.sockets)
      const target = ports[7]!
      acks.length = 0
      // hostile or stray datagrams: all ignored
      peerSocket.trySend(encodeProbe('PROBE', randomBytes(16)), target, '127.0.0.1') // another nonce
      peerSocket.trySend(Buffer.concat([encodeProbe('PROBE', nonce), Buffer.from([0])]), target, '127.0.0.1') // too long
      peerSocket.trySend(encodeProbe('PROBE_ACK', nonce), target, '127.0.0.1') // wrong kind
      impostor.trySend(encodeProbe('PROBE', nonce), target, '127.0.0.1') // another source IP
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(acks.length, 0, 'nothing answered')
      peerSocket.trySend(encodeProbe('PROBE', nonce), target, '127.0.0.1')
      const r = await attempt
      assert.equal(r.socket.address()?.port, target)
      assert.equal(r.remotePort, peerSocket.address()!.port)
      assert.equal(r.sockets, caps.sockets)
      await until('the ACK', async () => acks.length > 0 ? true : undefined, 2000, 20)
      assert.ok(acks.every(a => a.port === target && a.buf.equals(encodeProbe('PROBE_ACK', nonce))))
      assert.equal(budget.status().openSockets, 0, 'the budget got its sockets back')
      await r.socket.close()
    } finally {
      controller.abort()
      await peerSocket.close()
      await impostor.close()
    }
  })

  it('the prober stops at the first PROBE_ACK with its nonce from the peer\'s IP, ignoring others', async () => {
    const udx = new UDX()
    const main = udx.createSocket()
    main.bind(0, '127.0.0.1')
    const demux = new DatagramDemux(main)
    const target = udx.createSocket()
    target.bind(0, '127.0.0.1')
    const impostor = udx.createSocket()
    impostor.bind(0, '127.0.0.2')
    const nonce = randomBytes(16)
    const seen: number[] = []
    target.on('message', () => { seen.push(1) })
    let sent = 0
    const controller = new AbortController()
    try {
      const attempt = probeRandomPorts(main, demux, '127.0.0.1', nonce, { ...caps, probesPerSecond: 50 }, controller.signal, {
        budget: new ProbeBudget({ probesPerSecond: 100, maxSockets: 0 }),
        onProbe: ({ probes }) => {
          sent = probes
          if (probes === 3) {
            impostor.trySend(encodeProbe('PROBE_ACK', nonce), main.address()!.port, '127.0.0.1')
            target.trySend(encodeProbe('PROBE_ACK', randomBytes(16)), main.address()!.port, '127.0.0.1')
          }
          if (probes === 6) target.trySend(encodeProbe('PROBE_ACK', nonce), main.address()!.port, '127.0.0.1')
        }
      })
      const r = await attempt
      assert.equal(r.remotePort, target.address()!.port)
      assert.ok(r.probes >= 6 && r.probes === sent, `stopped after the valid ACK (${r.probes} probes)`)
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(sent, r.probes, 'no probe after the ACK')
    } finally {
      controller.abort()
      demux.close()
      await Promise.all([main.close(), target.close(), impostor.close()])
    }
  })

  it('the node-wide budget splits sockets between attempts and refuses when none is left; abort closes every socket', async () => {
    const udx = new UDX()
    const budget = new ProbeBudget({ probesPerSecond: 100, maxSockets: 80 })
    const c1 = new AbortController()
    const c2 = new AbortController()
    const opened: number[] = []
    const remote = { host: '127.0.0.1', port: 9 }
    const a1 = openBirthdaySockets(udx, remote, randomBytes(16), caps, c1.signal, { budget, onOpen: ({ sockets }) => opened.push(sockets) })
    const a2 = openBirthdaySockets(udx, remote, randomBytes(16), caps, c2.signal, { budget, onOpen: ({ sockets }) => opened.push(sockets) })
    await assert.rejects(openBirthdaySockets(udx, remote, randomBytes(16), caps, new AbortController().signal, { budget }),
      (err: UdxPunchError) => err.code === 'PROBE_BUDGET')
    assert.deepEqual(opened, [64, 16])
    const before = udpSocketsOf(process.pid)
    c1.abort(new Error('test'))
    c2.abort(new Error('test'))
    await Promise.all([
      assert.rejects(a1, (err: UdxPunchError) => err instanceof UdxPunchError && err.code === 'PROBE_ABORTED'),
      assert.rejects(a2, (err: UdxPunchError) => err.code === 'PROBE_ABORTED')
    ])
    assert.equal(before - udpSocketsOf(process.pid), 80, 'every probe socket is closed after abort')
    assert.equal(budget.status().openSockets, 0)
  })

  it('the node-wide budget also bounds probes per second over attempts', async () => {
    const udx = new UDX()
    const main = udx.createSocket()
    main.bind(0, '127.0.0.1')
    const demux = new DatagramDemux(main)
    const budget = new ProbeBudget({ probesPerSecond: 20, maxSockets: 0 })
    const controller = new AbortController()
    let sent = 0
    const started = performance.now()
    const attempts = [1, 2].map(async () => probeRandomPorts(main, demux, '127.0.0.1', randomBytes(16), caps, controller.signal, {
      budget, onProbe: () => { sent++ }
    }))
    await new Promise(resolve => setTimeout(resolve, 1000))
    controller.abort(new Error('test'))
    const elapsed = (performance.now() - started) / 1000
    for (const a of attempts) await assert.rejects(a, { code: 'PROBE_ABORTED' })
    demux.close()
    await main.close()
    // two attempts at 100/s each, but the node allows 20/s (burst: 100 ms worth, 2 probes)
    assert.ok(sent > 0 && sent <= Math.ceil(20 * elapsed) + 2, `${sent} probes in ${elapsed.toFixed(2)} s within the node's 20/s`)
    assert.ok(budget.status().probesRefused > 0, 'the budget refused the excess')
  })

  it('bad caps and hosts are refused with PROBE_CAPS', async () => {
    const udx = new UDX()
    const signal = new AbortController().signal
    const nonce = randomBytes(16)
    await assert.rejects(openBirthdaySockets(udx, { host: 'example.com', port: 1 }, nonce, caps, signal), { code: 'PROBE_CAPS' })
    await assert.rejects(openBirthdaySockets(udx, { host: '127.0.0.1', port: 1 }, randomBytes(4), caps, signal), { code: 'PROBE_CAPS' })
    await assert.rejects(openBirthdaySockets(udx, { host: '127.0.0.1', port: 1 }, nonce, { ...caps, probesPerSecond: 500 }, signal), { code: 'PROBE_CAPS' })
    await assert.rejects(openBirthdaySockets(udx, { host: '127.0.0.1', port: 1 }, nonce, { ...caps, sockets: 100_000 }, signal), { code: 'PROBE_CAPS' })
  })
})
