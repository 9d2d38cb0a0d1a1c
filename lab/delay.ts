/**
 * Latency for lab links. Where the kernel has `sch_netem`, `tc qdisc ... netem delay`; where it
 * does not (this project's CI kernel), the delay element: `delay/delay.c`, a libnetfilter_queue
 * program that holds each packet for a fixed time, fed by iptables-nft NFQUEUE rules (nft's own
 * `queue` statement does not work on every kernel). The C file ships in the package and is
 * compiled with gcc on first use into a cache directory, keyed by a hash of its source.
 */
import { createHash } from 'node:crypto'
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { logger } from '@libp2p/logger'
import { DELAY_CACHE_DIRS } from './constants.js'
import { LabDelayElementError, LabToolMissingError } from './errors.js'
import { run } from './exec.js'

const log = logger('burrow:lab:delay')

/** The directory holding package.json, found by walking up from this module (lab/ or lab/dist/). */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) throw new LabDelayElementError('cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}

export function delaySourcePath (): string {
  return join(packageRoot(), 'lab', 'delay', 'delay.c')
}

/** Whether `dir` exists (made if missing) and can be written to. */
export function writableDir (dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, fsConstants.W_OK)
    return true
  } catch {
    return false
  }
}

let building: Promise<string> | undefined

/** Path of the compiled delay element, compiling it first if this source has not been compiled yet. */
export async function ensureDelayBinary (): Promise<string> {
  building ??= build().catch(err => {
    building = undefined
    throw err
  })
  return building
}

async function build (): Promise<string> {
  const source = delaySourcePath()
  let text: Buffer
  try {
    text = readFileSync(source)
  } catch (err) {
    throw new LabDelayElementError(`delay element source missing at ${source}`, { cause: err })
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16)
  const dir = [...DELAY_CACHE_DIRS, join(tmpdir(), 'burrow-lab')].find(writableDir)
  if (dir === undefined) throw new LabDelayElementError('no writable cache directory for the delay element')
  const binary = join(dir, `delay-${hash}`)
  if (existsSync(binary)) return binary
  const partial = `${binary}.${process.pid}.tmp`
  log('compiling %s → %s', source, binary)
  try {
    await run('gcc', ['-O2', '-Wall', '-o', partial, source, '-lnetfilter_queue', '-lnfnetlink'], { timeoutMs: 60_000 })
  } catch (err) {
    if (err instanceof LabToolMissingError) throw err
    throw new LabDelayElementError('could not compile the delay element (needs gcc and libnetfilter-queue-dev)', { cause: err })
  }
  renameSync(partial, binary)
  return binary
}

let netem: boolean | undefined

/** Whether `tc qdisc ... netem` works on this kernel (probed once, on a dummy interface in `ns`). */
export async function hasNetem (ns: string): Promise<boolean> {
  if (netem !== undefined) return netem
  if (process.env.BURROW_LAB_NO_NETEM === '1') {
    netem = false
    return netem
  }
  await run('ip', ['-n', ns, 'link', 'add', 'netemprobe', 'type', 'dummy'], { allowFailure: true })
  const r = await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'netemprobe', 'root', 'netem', 'delay', '1ms'], { allowFailure: true })
  await run('ip', ['-n', ns, 'link', 'del', 'netemprobe'], { allowFailure: true })
  netem = r.code === 0
  log('netem %s', netem ? 'available' : 'not available: using the NFQUEUE delay element')
  return netem
}
