/**
 * `npm run bench -- --only memory`: where an idle daemon's memory goes, and what it is.
 *
 * - Idle RSS of the real `burrow daemon` (no peers, port mapping off), `idleMs` after its
 *   "ready" line, over several starts: with defaults, with the WebRTC path off
 *   (`--punch tcp`), and with defaults but the heap compaction after start off
 *   (`BURROW_COMPACT_HEAP=false`, the figure before src/memory); beside a stock js-libp2p
 *   node (TCP, Noise, Yamux, identify, ping; bench/peers/node-cost-peer.js) started in the
 *   same trial, and a bare Node process (the runtime's own floor).
 * - The heap report of one daemon (WebRTC off), from a preload (bench/peers/heap-report.js):
 *   V8 heap spaces, the top object kinds by self size in a heap snapshot (the snapshot's
 *   summary view), module sources by package (bytes of source text kept in the heap and
 *   modules loaded), and the native libraries mapped, by resident size (/proc/PID/smaps).
 */
import { spawn } from 'node:child_process'
import { readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { pairedRatios, summarizeOrNull } from './stats.ts'
import { CLI, Helper, ROOT, peerScript, sleep, startHelper } from './proc.ts'
import { rssMb } from './node-cost.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

interface Plan { trials: number, idleMs: number, report: boolean }
const PLANS: Record<Size, Plan> = {
  smoke: { trials: 1, idleMs: 300, report: true },
  quick: { trials: 3, idleMs: 5000, report: true },
  full: { trials: 5, idleMs: 5000, report: true }
}

/** Preloaded into the compacted stock node: the same compaction the daemon does (src/memory), 1 s after start. */
const COMPACT_PRELOAD = `data:text/javascript,import{compactHeap}from${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'memory', 'index.js')).href)};setTimeout(()=>{compactHeap()},1000).unref()`

/** Preloaded before the compaction into a stock node: burrow's whole module graph imported (dist/index.js), none of it started. */
const IMPORT_PRELOAD = `data:text/javascript,await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)})`

/** Trials of the stock node with burrow's modules imported. */
const IMPORTED_TRIALS = 3

/** A process's resident anonymous and file-backed pages (the node binary, libraries), MB. */
function rssParts (pid: number): { anon: number, file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN) * 1024 / 1e6
  return { anon: kb('RssAnon'), file: kb('RssFile') }
}

/** How many rows of each breakdown the notes show. */
const TOP = 12

/** Spawns `burrow daemon` on loopback and waits for "ready". */
async function startDaemon (home: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Helper> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, '--home', home, 'daemon', '--network', 'bench', '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const helper = new Helper('daemon', child)
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { reject(new Error(`daemon not ready within 30 s: ${helper.tail()}`)) }, 30_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (/^ready$/m.test(out)) { clearTimeout(timer); resolve() }
    })
    child.once('close', () => { clearTimeout(timer); reject(new Error(`daemon exited: ${helper.tail()}`)) })
  })
  return helper
}

/** A stock js-libp2p node (node-cost-peer.js) started with `nodeArgs`, idle for `idleMs` after ready: its RSS and where it is. */
async function stockIdle (nodeArgs: string[], idleMs: number): Promise<{ rss: number, parts: { anon: number, file: number } }> {
  const stock = await startHelper('node-cost-peer.js', ['--kind', 'stock'], { nodeArgs })
  try {
    await stock.report('ready', 30_000)
    await sleep(idleMs)
    return { rss: rssMb(stock.pid), parts: rssParts(stock.pid) }
  } finally {
    await stock.stop()
  }
}

/** A bare Node process idling: the runtime's own RSS. */
async function bareNodeRss (idleMs: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  const helper = new Helper('bare-node', child)
  try {
    await sleep(Math.max(idleMs, 300))
    return rssMb(helper.pid)
  } finally {
    await helper.stop()
  }
}

interface HeapNodeSummary { kind: string, bytes: number, count: number }

/** The heap snapshot's summary: self size by constructor (objects) or by node type (code, strings, arrays…). */
export function snapshotSummary (file: string): { total: number, top: HeapNodeSummary[] } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[], node_types: [string[]] } }, nodes: number[], strings: string[] }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSize = fields.indexOf('self_size')
  const by = new Map<string, HeapNodeSummary>()
  let total = 0
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] ?? 0] ?? '?'
    const name = snap.strings[snap.nodes[i + iName] ?? 0] ?? ''
    const size = snap.nodes[i + iSize] ?? 0
    const kind = type === 'object' || type === 'native' ? name : type === 'code' || type === 'hidden' ? `(${type}) ${name.slice(0, 40)}` : `(${type})`
    const e = by.get(kind) ?? { kind, bytes: 0, count: 0 }
    e.bytes += size
    e.count++
    by.set(kind, e)
    total += size
  }
  return { total, top: [...by.values()].sort((a, b) => b.bytes - a.bytes).slice(0, TOP) }
}

/** Package of a module URL: `@scope/name`, `name`, `burrow:<folder>` or `node:` built-ins. */
export function packageOf (url: string): string {
  if (url.startsWith('node:')) return 'node: built-ins'
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (nm?.[1] !== undefined) return nm[1]
  const own = /\/dist\/([^/]+)\//.exec(url)
  return own?.[1] !== undefined ? `burrow:${own[1]}` : url
}

/** Loaded modules by package: count and bytes of source (kept in the heap as strings). */
export function modulesByPackage (urls: string[]): Array<{ pkg: string, modules: number, sourceBytes: number }> {
  const by = new Map<string, { pkg: string, modules: number, sourceBytes: number }>()
  for (const url of new Set(urls)) {
    const pkg = packageOf(url)
    const e = by.get(pkg) ?? { pkg, modules: 0, sourceBytes: 0 }
    e.modules++
    if (url.startsWith('file:')) {
      try { e.sourceBytes += statSync(fileURLToPath(url)).size } catch {}
    }
    by.set(pkg, e)
  }
  return [...by.values()].sort((a, b) => b.sourceBytes - a.sourceBytes)
}

/** Resident KB per mapped file that is a native library (.node, .so), from /proc/PID/smaps. */
export function nativeLibraries (pid: number): Array<{ file: string, rssKb: number }> {
  const by = new Map<string, number>()
  let current: string | undefined
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/.exec(line)
    if (head !== null) {
      const file = head[1]?.trim() ?? ''
      current = /\.(node|so(\.\d+)*)$/.test(file) || file === process.execPath || file.endsWith('/node') ? file : undefined
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss?.[1] !== undefined && current !== undefined) by.set(current, (by.get(current) ?? 0) + Number(rss[1]))
  }
  return [...by.entries()].map(([file, rssKb]) => ({ file: file.replace(/.*node_modules\//, ''), rssKb })).sort((a, b) => b.rssKb - a.rssKb)
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1)

/** One daemon (WebRTC off) with the heap-report preload: its breakdown as notes. */
async function heapReport (ctx: BenchContext, idleMs: number): Promise<{ notes: string[], params: Record<string, unknown> }> {
  const base = join(ctx.tmpDir, 'memory-report')
  const d = await startDaemon(join(ctx.tmpDir, 'memory-report-home'), ['--punch', 'tcp'], { BURROW_HEAP_REPORT: base }, ['--import', peerScript('heap-report.js')])
  try {
    await sleep(idleMs)
    const rss = rssMb(d.pid)
    const natives = nativeLibraries(d.pid)
    process.kill(d.pid, 'SIGUSR2')
    const deadline = Date.now() + 60_000
    let report: { memory: NodeJS.MemoryUsage, spaces: Array<{ name: string, used: number, physical: number }>, code: Record<string, number>, modules: string[] } | undefined
    while (report === undefined) {
      try { report = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as typeof report } catch {}
      if (report === undefined) {
        if (Date.now() > deadline) throw new Error('the daemon wrote no heap report within 60 s')
        await sleep(200)
      }
    }
    const snap = snapshotSummary(`${base}.heapsnapshot`)
    rmSync(`${base}.heapsnapshot`, { force: true })
    const pkgs = modulesByPackage(report.modules)
    const m = report.memory
    const notes = [
      `heap report (daemon, WebRTC off, ${idleMs / 1000} s idle): RSS ${rss.toFixed(1)} MB = V8 heap ${mb(m.heapTotal)} MB (used ${mb(m.heapUsed)}) + external ${mb(m.external)} MB + the rest (Node/V8 binary and its data, malloc, thread stacks); ${new Set(report.modules).size} modules loaded`,
      `  heap spaces (used/physical MB): ${report.spaces.filter(s => s.physical > 0).map(s => `${s.name.replace('_space', '')} ${mb(s.used)}/${mb(s.physical)}`).join(', ')}; bytecode+metadata ${mb(report.code.bytecode_and_metadata_size ?? 0)} MB, script source ${mb(report.code.external_script_source_size ?? 0)} MB external`,
      `  heap snapshot, self size by kind (${mb(snap.total)} MB in all): ${snap.top.map(t => `${t.kind} ${mb(t.bytes)} MB ×${t.count}`).join('; ')}`,
      `  module source by package (bytes kept in the heap, modules): ${pkgs.slice(0, TOP).map(p => `${p.pkg} ${mb(p.sourceBytes)} MB/${p.modules}`).join('; ')}`,
      `  native code mapped, resident: ${natives.slice(0, 6).map(n => `${n.file} ${(n.rssKb / 1000).toFixed(1)} MB`).join('; ')}`
    ]
    return { notes, params: { heapTotal: m.heapTotal, heapUsed: m.heapUsed, modules: new Set(report.modules).size, packages: pkgs.slice(0, 30), snapshotTop: snap.top, natives } }
  } finally {
    await d.stop()
    rmSync(`${base}.json`, { force: true })
  }
}

export const memory: Benchmark = {
  name: 'memory',
  title: 'Memory: idle daemon RSS, before/after, and where it goes',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const s = { defaults: [] as number[], webrtcOff: [] as number[], uncompacted: [] as number[], stock: [] as number[], stockCompacted: [] as number[], stockImported: [] as number[], bare: [] as number[] }
    /** resident anonymous / file-backed MB of the first trial's daemon, compacted stock node, and stock node with burrow's modules */
    const parts: Record<string, { anon: number, file: number }> = {}
    for (let t = 0; t < plan.trials; t++) {
      ctx.log(`memory: trial ${t + 1}/${plan.trials}`)
      // one at a time, so each is measured on a machine as quiet as this run can make it
      const variants: Array<[number[], string[], NodeJS.ProcessEnv]> = [
        [s.defaults, [], {}],
        [s.webrtcOff, ['--punch', 'tcp'], {}],
        [s.uncompacted, [], { BURROW_COMPACT_HEAP: 'false' }]
      ]
      for (const [into, args, env] of variants) {
        const d = await startDaemon(join(ctx.tmpDir, `memory-${t}-${into.length}-${args.join('')}`), args, env)
        try {
          await sleep(plan.idleMs)
          into.push(rssMb(d.pid))
          if (into === s.defaults && t === 0) parts.daemon = rssParts(d.pid)
        } finally {
          await d.stop()
        }
      }
      s.stock.push((await stockIdle([], plan.idleMs)).rss)
      // the floor of the libp2p part: the stock node with the same compaction as the daemon
      const compacted = await stockIdle(['--import', COMPACT_PRELOAD], Math.max(plan.idleMs, 1500))
      s.stockCompacted.push(compacted.rss)
      if (t === 0) parts.stockCompacted = compacted.parts
      // what burrow's code costs before any of it runs: the same compacted stock node, with
      // burrow's module graph imported first (its services, DHT, relay, AutoNAT, UDX, messaging…);
      // three trials at most, so the full bench stays within its 25 minutes
      if (t < IMPORTED_TRIALS) {
        const imported = await stockIdle(['--import', IMPORT_PRELOAD, '--import', COMPACT_PRELOAD], Math.max(plan.idleMs, 1500))
        s.stockImported.push(imported.rss)
        if (t === 0) parts.stockImported = imported.parts
      }
      s.bare.push(await bareNodeRss(plan.idleMs))
    }
    const daemon = summarizeOrNull(s.defaults)
    const stock = { label: 'stock js-libp2p (TCP, Noise, Yamux, identify, ping)', value: summarizeOrNull(s.stock) }
    const figures: Figure[] = [
      {
        key: 'memory.daemon-idle-rss',
        label: `idle RSS, daemon with defaults, ${plan.idleMs / 1000} s after ready`,
        unit: 'MB',
        value: daemon,
        baseline: stock,
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.defaults, s.stock)) },
        target: { id: 'P7', goal: '≤ 80 MB', met: daemon == null ? null : daemon.median <= 80, detail: `median of ${s.defaults.length} daemon starts` }
      },
      {
        key: 'memory.daemon-idle-rss-webrtc-off',
        label: 'idle RSS, daemon with the WebRTC path off (--punch tcp)',
        unit: 'MB',
        value: summarizeOrNull(s.webrtcOff),
        baseline: stock,
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.webrtcOff, s.stock)) }
      },
      {
        key: 'memory.daemon-idle-rss-uncompacted',
        label: 'idle RSS, daemon with defaults, no heap compaction after start (before)',
        unit: 'MB',
        value: summarizeOrNull(s.uncompacted),
        baseline: { label: 'the same daemon with compaction', value: daemon },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.uncompacted, s.defaults)) }
      },
      {
        key: 'memory.stock-compacted-rss',
        label: 'idle RSS, stock js-libp2p node with the same heap compaction (the libp2p floor)',
        unit: 'MB',
        value: summarizeOrNull(s.stockCompacted),
        baseline: stock,
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.stockCompacted, s.stock)) }
      },
      {
        key: 'memory.stock-imported-rss',
        label: 'idle RSS, the compacted stock node with burrow\'s modules imported, none of them started (what the code costs)',
        unit: 'MB',
        value: summarizeOrNull(s.stockImported),
        baseline: { label: 'the compacted stock node', value: summarizeOrNull(s.stockCompacted) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.stockImported, s.stockCompacted)) }
      },
      {
        key: 'memory.bare-node-rss',
        label: 'RSS of a bare Node process (the runtime alone)',
        unit: 'MB',
        value: summarizeOrNull(s.bare)
      }
    ]
    const notes: string[] = []
    const line = (name: string, p?: { anon: number, file: number }): string => p === undefined ? `${name} -` : `${name} ${(p.anon + p.file).toFixed(1)} (anonymous ${p.anon.toFixed(1)}, file-backed ${p.file.toFixed(1)})`
    notes.push(`resident MB, first trial: ${line('daemon', parts.daemon)}; ${line('compacted stock node', parts.stockCompacted)}; ${line('the same with burrow\'s modules imported, none started', parts.stockImported)}`)
    let params: Record<string, unknown> = { ...plan, parts }
    if (plan.report) {
      const r = await heapReport(ctx, plan.idleMs)
      notes.push(...r.notes)
      params = { ...params, report: r.params }
    }
    return { status: 'ok', figures, notes, params }
  }
}
