import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FIELDS, defaultsObject, getPath, setPath } from './fields.js'
import { configSchema } from './schema.js'
import { InvalidConfigError } from './errors.js'
import { checkHome, checkTrustedFile } from './home.js'
import type { Field } from './fields.js'
import type { BurrowConfig } from './schema.js'

export const CONFIG_FILE = 'config.json'

/** Values given on the command line, keyed by config path (`messages.maxBytes`). */
export type ConfigOverrides = Record<string, unknown>

export interface LoadConfigOptions {
  home: string
  env?: NodeJS.ProcessEnv
  flags?: ConfigOverrides
}

type Source = string

/**
 * Builds the effective config: defaults < HOME/config.json < environment < flags.
 * Each layer is checked as it is read, so an error names the field, the value and
 * the place it came from, in one line.
 */
export async function loadConfig (options: LoadConfigOptions): Promise<BurrowConfig> {
  const merged = defaultsObject()
  const sources = new Map<string, Source>()

  // a home or config.json others can write is not ours to trust (DESIGN.md, Security rules)
  await checkHome(options.home)
  const file = join(options.home, CONFIG_FILE)
  await checkTrustedFile(file)
  const fromFile = await readConfigFile(file)
  if (fromFile != null) {
    rejectUnknownKeys(fromFile, file)
    for (const f of FIELDS) {
      const v = getPath(fromFile, f.path)
      if (v !== undefined) {
        setPath(merged, f.path, v)
        sources.set(f.path, file)
      }
    }
  }

  for (const f of FIELDS) {
    const raw = options.env?.[f.env]
    if (raw != null && raw !== '') {
      setPath(merged, f.path, parseEnv(f, raw))
      sources.set(f.path, `environment variable ${f.env}`)
    }
  }

  for (const [path, v] of Object.entries(options.flags ?? {})) {
    if (v === undefined) continue
    const f = FIELDS.find(x => x.path === path)
    if (f == null) throw new InvalidConfigError(path, `unknown setting '${path}'`)
    setPath(merged, path, v)
    sources.set(path, f.flag ?? path)
  }

  return validateConfig(merged, sources)
}

/** Checks a whole config object; `sources` says where each field's value came from. */
export function validateConfig (obj: Record<string, unknown>, sources: Map<string, Source> = new Map()): BurrowConfig {
  const result = configSchema.check(obj)
  if (result.ok) {
    const { metrics, metricsPublic } = result.value
    if (metrics != null && !metricsPublic && !isLoopbackAddress(metrics)) {
      throw new InvalidConfigError('metrics', `metrics = ${JSON.stringify(metrics)} (from ${sources.get('metrics') ?? 'defaults'}) is not a loopback address: metrics tell whoever reaches the port about your peers and relays; pass --metrics-public (config metricsPublic: true) to serve them there anyway`)
    }
    const { ui, uiPublic } = result.value
    if (ui != null && !uiPublic && !isLoopbackAddress(ui)) {
      throw new InvalidConfigError('ui', `ui = ${JSON.stringify(ui)} (from ${sources.get('ui') ?? 'defaults'}) is not a loopback address: the live view shows your peers and messages and can dial and send; pass --ui-public (config uiPublic: true) to serve it there anyway`)
    }
    return result.value
  }
  const issue = result.problem
  const path = issue.path.map(String).join('.')
  const field = FIELDS.find(f => path === f.path || path.startsWith(`${f.path}.`))?.path ?? path
  const value = getPath(obj, path)
  const where = sources.get(field) ?? 'defaults'
  const display = issue.path.map((p, i) => typeof p === 'number' ? `[${p}]` : (i === 0 ? String(p) : `.${String(p)}`)).join('')
  throw new InvalidConfigError(field, `${display} = ${JSON.stringify(value)} (from ${where}): ${issue.message}`)
}

async function readConfigFile (file: string): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new InvalidConfigError('', `cannot read ${file}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new InvalidConfigError('', `${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed == null || Array.isArray(parsed)) {
    throw new InvalidConfigError('', `${file} must hold a JSON object`)
  }
  return parsed as Record<string, unknown>
}

function rejectUnknownKeys (obj: Record<string, unknown>, file: string, prefix = ''): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix === '' ? k : `${prefix}.${k}`
    const isLeaf = FIELDS.some(f => f.path === path)
    const isGroup = FIELDS.some(f => f.path.startsWith(`${path}.`))
    if (isLeaf) continue
    if (isGroup && typeof v === 'object' && v != null && !Array.isArray(v)) {
      rejectUnknownKeys(v as Record<string, unknown>, file, path)
      continue
    }
    if (isGroup) throw new InvalidConfigError(path, `${path} = ${JSON.stringify(v)} (from ${file}): must be an object`)
    throw new InvalidConfigError(path, `unknown key '${path}' in ${file} (known keys: ${knownKeys(prefix)})`)
  }
}

function knownKeys (prefix: string): string {
  const keys = new Set<string>()
  for (const f of FIELDS) {
    if (prefix !== '' && !f.path.startsWith(`${prefix}.`)) continue
    const rest = prefix === '' ? f.path : f.path.slice(prefix.length + 1)
    keys.add(rest.split('.')[0] ?? rest)
  }
  return [...keys].join(', ')
}

/** Turns an environment string into the field's kind; the schema judges the result. */
export function parseEnv (f: Field, raw: string): unknown {
  switch (f.kind) {
    case 'number': {
      const n = Number(raw)
      return Number.isFinite(n) && raw.trim() !== '' ? n : raw
    }
    case 'boolean':
      if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false
      return raw
    case 'string[]':
    case 'string[]?':
      return raw.split(',').map(s => s.trim()).filter(s => s !== '')
    case 'string?':
      return raw === 'null' ? null : raw
    default:
      return raw
  }
}

/** Whether a `metrics` HOST:PORT only listens on this host (127.0.0.0/8, ::1, localhost). */
function isLoopbackAddress (address: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):\d{1,5}$/.exec(address)
  const host = (m?.[1] ?? m?.[2] ?? '').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
