/**
 * Benchmark 1, messages: round-trip time and stream throughput between two burrow nodes,
 * each paired with raw TCP (a plain Node socket echo / sink) on the same path in the same
 * repetition; on loopback also the one-core ChaCha20-Poly1305 rate of node:crypto.
 * See bench/README.md for the method.
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { pairedDifferences, pairedRatios, summarize, summarizeOrNull } from './stats.ts'
import { runHelper, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'
import type { Helper, HelperOptions } from './proc.ts'

/** the lab path: rate limit on the client's router WAN (each direction), one-way delay there */
export const LAB_RATE_MBIT = 100
export const LAB_DELAY_MS = 10

interface Plan { reps: number, rtt: number, bytes: number, labBytes: number, cryptoMs: number }
const PLANS: Record<Size, Plan> = {
  smoke: { reps: 1, rtt: 10, bytes: 1 << 20, labBytes: 1 << 20, cryptoMs: 50 },
  quick: { reps: 3, rtt: 50, bytes: 32 << 20, labBytes: 4 << 20, cryptoMs: 250 },
  full: { reps: 5, rtt: 100, bytes: 32 << 20, labBytes: 8 << 20, cryptoMs: 500 }
}

interface Rep { tcpRttMs: number, streamRttMs: number, messageRttMs: number, tcpMbit: number, streamMbit: number, /** the same transfer between two stock js-libp2p nodes (TCP, Noise, Yamux) */ stockMbit?: number }

/** One core's ChaCha20-Poly1305 encryption rate in Mbit/s (64 KiB records, Noise's maximum message size). */
export function chachaMbit (ms: number): number {
  const key = randomBytes(32)
  const data = randomBytes(65535 - 16)
  const nonce = Buffer.alloc(12)
  let bytes = 0
  let counter = 0
  const t0 = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    nonce.writeUInt32LE(counter++, 4)
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    c.update(data)
    c.final()
    c.getAuthTag()
    bytes += data.length
    elapsed = performance.now() - t0
  }
  return bytes * 8 / 1e6 / (elapsed / 1000)
}

async function measurePath (ctx: BenchContext, label: string, plan: Plan, bytes: number, server: HelperOptions & { ip: string }, client: HelperOptions & { ip: string }): Promise<Rep[]> {
  const home = (n: string): string => join(ctx.tmpDir, `messages-${label}-${n}`)
  let srv: Helper | undefined
  try {
    const stock = label === 'loopback' ? ['--stock'] : []
    srv = await startHelper('messages-peer', ['serve', '--ip', server.ip, '--home', home('server'), ...stock], server)
    const ready = await srv.report<Record<string, unknown>>('ready', 30_000)
    const target = JSON.stringify({ ...ready, ip: server.ip })
    const reports = await runHelper('messages-peer', [
      'measure', '--ip', client.ip, '--home', home('client'), '--target', target,
      '--rtt', String(plan.rtt), '--bytes', String(bytes), '--reps', String(plan.reps), ...stock
    ], { ...client, timeoutMs: 10 * 60_000 })
    return reports.filter(r => r.type === 'rep') as unknown as Rep[]
  } finally {
    await srv?.stop()
  }
}

function pathFigures (where: string, reps: Rep[], extra: { ptarget?: 'P3' | 'P4lab' }): Figure[] {
  const col = (k: Exclude<keyof Rep, 'stockMbit'>): number[] => reps.map(r => r[k])
  const diffRtt = summarizeOrNull(pairedDifferences(col('messageRttMs'), col('tcpRttMs')))
  const tput = summarizeOrNull(pairedRatios(col('streamMbit'), col('tcpMbit')))
  const figures: Figure[] = [
    {
      key: `messages.${where}.message-rtt`,
      label: `message RTT (send → ack), ${where}`,
      unit: 'ms',
      value: summarizeOrNull(col('messageRttMs')),
      baseline: { label: 'raw TCP echo', value: summarizeOrNull(col('tcpRttMs')) },
      compare: { kind: 'difference', unit: 'ms', value: diffRtt },
      target: {
        id: 'P3',
        goal: '≤ +2 ms vs raw TCP',
        met: diffRtt == null ? null : diffRtt.median <= 2,
        detail: where === 'loopback' ? 'on loopback (P3 is defined on the punched path)' : `on the lab path (${LAB_DELAY_MS} ms one-way, ${LAB_RATE_MBIT} Mbit/s), a direct connection, not a punched one`
      },
      headline: { better: 'lower' }
    },
    {
      key: `messages.${where}.stream-rtt`,
      label: `stream echo RTT (64 B), ${where}`,
      unit: 'ms',
      value: summarizeOrNull(col('streamRttMs')),
      baseline: { label: 'raw TCP echo', value: summarizeOrNull(col('tcpRttMs')) },
      compare: { kind: 'difference', unit: 'ms', value: summarizeOrNull(pairedDifferences(col('streamRttMs'), col('tcpRttMs'))) }
    },
    {
      key: `messages.${where}.throughput`,
      label: `stream throughput, ${where}`,
      unit: 'Mbit/s',
      value: summarizeOrNull(col('streamMbit')),
      baseline: { label: 'raw TCP', value: summarizeOrNull(col('tcpMbit')) },
      compare: { kind: 'ratio', unit: '', value: tput },
      headline: where === 'lab' ? { better: 'higher', targetRatio: 0.9 } : { better: 'higher' }
    },
    ...reps.every(r => typeof r.stockMbit === 'number') && reps.length > 0 ? [{
      key: `messages.${where}.throughput-vs-stock`,
      label: `stream throughput, ${where}, vs two stock js-libp2p nodes (TCP, Noise, Yamux; same processes, same transfer)`,
      unit: 'Mbit/s',
      value: summarizeOrNull(col('streamMbit')),
      baseline: { label: 'stock js-libp2p stream', value: summarizeOrNull(reps.map(r => r.stockMbit ?? 0)) },
      compare: { kind: 'ratio' as const, unit: '', value: summarizeOrNull(pairedRatios(col('streamMbit'), reps.map(r => r.stockMbit ?? 0))) }
    }] : []
  ]
  if (extra.ptarget === 'P4lab') {
    const f = figures[2]
    if (f !== undefined) {
      f.target = { id: 'P4', goal: `≥ 0.9 × raw TCP on a ${LAB_RATE_MBIT} Mbit/s link`, met: tput == null ? null : tput.median >= 0.9, detail: `${LAB_DELAY_MS} ms one-way delay` }
    }
  }
  return figures
}

export const messages: Benchmark = {
  name: 'messages',
  title: 'Messages: RTT and throughput vs raw TCP',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const notes: string[] = []
    const figures: Figure[] = []
    let status: BenchOutput['status'] = 'ok'

    // loopback: server and client in two processes on 127.0.0.1
    ctx.log(`messages: loopback, ${plan.reps} reps × (${plan.rtt} round trips, ${plan.bytes >> 20} MiB)`)
    const loop = await measurePath(ctx, 'loopback', plan, plan.bytes, { ip: '127.0.0.1' }, { ip: '127.0.0.1' })
    figures.push(...pathFigures('loopback', loop, {}))
    // the crypto ceiling, measured between the same repetitions' order: once per rep
    const chacha: number[] = []
    for (let i = 0; i < plan.reps; i++) chacha.push(chachaMbit(plan.cryptoMs))
    const vsCrypto = summarizeOrNull(pairedRatios(loop.map(r => r.streamMbit), chacha))
    figures.push({
      key: 'messages.loopback.throughput-vs-crypto',
      label: 'stream throughput, loopback, vs one-core ChaCha20-Poly1305',
      unit: 'Mbit/s',
      value: summarizeOrNull(loop.map(r => r.streamMbit)),
      baseline: { label: 'node:crypto ChaCha20-Poly1305, 1 core', value: summarize(chacha) },
      compare: { kind: 'ratio', unit: '', value: vsCrypto },
      target: { id: 'P4', goal: '≥ 0.5 × one-core ChaCha20-Poly1305', met: vsCrypto == null ? null : vsCrypto.median >= 0.5, detail: `loopback; two stock js-libp2p nodes (TCP, Noise, Yamux) reach ×${(summarizeOrNull(pairedRatios(loop.map(r => r.stockMbit ?? 0), chacha))?.median ?? Number.NaN).toFixed(2)} in the same run` },
      headline: { better: 'higher', targetRatio: 0.5 }
    })

    // the lab path: client behind a router with a rate limit and a one-way delay, server public
    if (!ctx.labAvailable) {
      notes.push(`lab path skipped: ${ctx.labReason ?? 'lab not available'}`)
      status = 'partial'
    } else {
      ctx.log(`messages: lab path (${LAB_RATE_MBIT} Mbit/s, ${LAB_DELAY_MS} ms one-way)`)
      const { Lab } = await import('../lab/dist/index.js')
      const lab = await Lab.create({ name: 'bench-messages' })
      try {
        const srv = await lab.addPublicHost('srv')
        const home = await lab.addHome('cli', { nat: 'cone', delayMs: LAB_DELAY_MS, rateMbit: LAB_RATE_MBIT })
        const cli = home.hosts[0]
        if (cli === undefined) throw new Error('lab home has no host')
        const reps = await measurePath(ctx, 'lab', plan, plan.labBytes,
          { ip: srv.ip, lab: { lab, host: srv } }, { ip: cli.ip, lab: { lab, host: cli } })
        figures.push(...pathFigures('lab', reps, { ptarget: 'P4lab' }))
        notes.push(`lab path: client behind a cone NAT whose WAN has a ${LAB_RATE_MBIT} Mbit/s rate limit and ${LAB_DELAY_MS} ms one-way delay in each direction; server on a public lab host`)
      } finally {
        await lab.teardown()
      }
    }
    return { status, figures, notes, params: { ...plan, labRateMbit: LAB_RATE_MBIT, labDelayMs: LAB_DELAY_MS } }
  }
}
