/**
 * A strict parser of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for
 * tests: it throws on the first line that breaks the format, so "it parsed" means a
 * Prometheus server would take the scrape.
 */

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, type: string, help?: string, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

export function parsePrometheusText (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const sampled = new Set<string>()
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed')
  const lines = text.split('\n')
  lines.pop()
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line.slice(0, 120))})`
    if (line.trim() === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m == null) return // a plain comment
      const [, kind, name = '', rest = ''] = m
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`)
      const family = families.get(name) ?? { name, type: 'untyped', samples: [] }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`)
        if (families.get(name)?.type !== undefined && families.get(name)?.type !== 'untyped') throw new Error(`${where}: a second TYPE line for ${name}`)
        if (sampled.has(name)) throw new Error(`${where}: TYPE after samples of ${name}`)
        family.type = rest
      } else {
        if (family.help != null) throw new Error(`${where}: a second HELP line for ${name}`)
        if (/\\[^\\n]/.test(rest)) throw new Error(`${where}: bad escape in HELP`)
        family.help = rest
      }
      families.set(name, family)
      return
    }
    const sample = parseSample(line, where)
    const family = familyOf(sample.name, families)
    if (family == null) throw new Error(`${where}: sample of ${sample.name} without a TYPE line`)
    sampled.add(family.name)
    family.samples.push(sample)
  })
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f)
  }
  return families
}

function parseSample (line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line)
  if (m == null) throw new Error(`${where}: not a sample line`)
  const [, name = '', rawLabels, rawValue = ''] = m
  const labels: Record<string, string> = {}
  if (rawLabels != null) {
    let rest = rawLabels.slice(1, -1)
    while (rest !== '') {
      const l = /^([^=,"\s]+)="((?:[^"\\\n]|\\["\\n])*)"(,?)/.exec(rest)
      if (l == null) throw new Error(`${where}: bad label syntax at ${JSON.stringify(rest)}`)
      const [all, lname = '', lvalue = '', comma] = l
      if (!LABEL_NAME.test(lname) || lname.startsWith('__')) throw new Error(`${where}: bad label name ${lname}`)
      if (lname in labels) throw new Error(`${where}: label ${lname} twice`)
      labels[lname] = lvalue.replace(/\\(["\\n])/g, (_, c: string) => c === 'n' ? '\n' : c)
      rest = rest.slice(all.length)
      if (comma === '' && rest !== '') throw new Error(`${where}: labels not separated by commas`)
    }
  }
  let value: number
  if (rawValue === '+Inf') value = Infinity
  else if (rawValue === '-Inf') value = -Infinity
  else if (rawValue === 'NaN') value = NaN
  else if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(rawValue)) value = Number(rawValue)
  else throw new Error(`${where}: bad value ${rawValue}`)
  return { name, labels, value }
}

function familyOf (sample: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sample)
  if (exact != null) return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue
    const f = families.get(sample.slice(0, -suffix.length))
    if (f != null && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f
  }
  return undefined
}

/** Buckets rise with `le`, end at +Inf, and the +Inf bucket equals _count, per label set. */
function checkHistogram (f: Family): void {
  const groups = new Map<string, Sample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter(s => s.name === `${f.name}_bucket`)
    const count = samples.find(s => s.name === `${f.name}_count`)
    if (buckets.length === 0 || count == null || samples.find(s => s.name === `${f.name}_sum`) == null) throw new Error(`histogram ${f.name} ${key}: buckets, _sum and _count are all needed`)
    let last = -Infinity
    let lastCount = 0
    for (const b of buckets) {
      const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)
      if (b.labels.le == null || Number.isNaN(le) || le <= last || b.value < lastCount) throw new Error(`histogram ${f.name} ${key}: buckets out of order`)
      last = le
      lastCount = b.value
    }
    if (last !== Infinity || lastCount !== count.value) throw new Error(`histogram ${f.name} ${key}: the +Inf bucket must equal _count`)
  }
}

/** The value of one series (labels matched exactly as given; others ignored), or undefined. */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families)
  return family?.samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

/** Fetches and parses `/metrics`; the content type must be the text format's. */
export async function scrape (url: string): Promise<Map<string, Family>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`)
  const type = res.headers.get('content-type') ?? ''
  if (!type.startsWith('text/plain') || !type.includes('version=0.0.4')) throw new Error(`GET ${url}: content-type ${type}`)
  return parsePrometheusText(await res.text())
}

/** burrow's series, as README and docs/DESIGN.md list them. */
export const BURROW_SERIES = [
  'burrow_holepunch_attempts_total',
  'burrow_relayed_to_direct_seconds',
  'burrow_relay_reservations_held',
  'burrow_relay_reservations_served',
  'burrow_relay_refusals_total',
  'burrow_reachability',
  'burrow_port_mappings',
  'burrow_messages_sent_total',
  'burrow_messages_acked_total',
  'burrow_messages_failed_total',
  'burrow_messages_queued_total',
  'burrow_outbox_messages',
  'burrow_inbox_bytes',
  'burrow_inbox_quota_bytes',
  'burrow_inbox_messages',
  'burrow_inbox_quota_messages',
  'burrow_dht_routing_table_peers',
  'burrow_udppunch_probes_sent_total'
]
