/**
 * `npm run fuzz`: the long fuzz run, 60 s per target by default.
 *
 *   npm run fuzz                                  # every target, 60 s each, a random seed
 *   npm run fuzz -- --seconds 300 --target pcp,stun-client
 *   npm run fuzz -- --seed 1234                   # repeat a run exactly (up to timing)
 *   npm run fuzz -- --target pcp --replay 0280…   # feed one input, print what happened
 *   npm run fuzz -- --json fuzz-report.json       # the report as JSON as well
 *   npm run fuzz -- --target upnp-description --max-len 262144 --hang-ms 1000   # bigger inputs, a tighter hang/slow bound
 *
 * The same knobs as environment variables: FUZZ_SECONDS, FUZZ_SEED, FUZZ_TARGETS.
 * Exits 1 when a target outside KNOWN (targets.ts) breaks a property.
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { check, formatReport, fromHex, fuzzTarget } from './engine.ts'
import { KNOWN, TARGETS, unexpected } from './targets.ts'
import type { TargetReport } from './engine.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    seed: { type: 'string' },
    target: { type: 'string' },
    replay: { type: 'string' },
    json: { type: 'string' },
    'max-len': { type: 'string' },
    'hang-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})

if (values.help === true) {
  console.log('usage: npm run fuzz -- [--seconds N] [--seed N] [--target a,b] [--replay HEX] [--json FILE] [--max-len BYTES] [--hang-ms MS]')
  console.log(`targets: ${TARGETS.map(t => t.name).join(', ')}`)
  process.exit(0)
}

const seconds = Number(values.seconds ?? process.env.FUZZ_SECONDS ?? 60)
if (!(seconds > 0)) throw new RangeError(`--seconds ${String(values.seconds)}: must be a positive number`)
const seed = Number(values.seed ?? process.env.FUZZ_SEED ?? (Math.random() * 0x100000000) >>> 0)
if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`--seed ${String(values.seed)}: must be an integer from 0 to 4294967295`)
const names = (values.target ?? process.env.FUZZ_TARGETS ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
const unknown = names.filter(n => !TARGETS.some(t => t.name === n))
if (unknown.length > 0) throw new RangeError(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map(t => t.name).join(', ')}`)
const maxLen = values['max-len'] == null ? undefined : Number(values['max-len'])
if (maxLen != null && !(Number.isInteger(maxLen) && maxLen > 0)) throw new RangeError(`--max-len ${String(values['max-len'])}: must be a whole number of bytes`)
const hangMs = values['hang-ms'] == null ? undefined : Number(values['hang-ms'])
if (hangMs != null && !(hangMs > 0)) throw new RangeError(`--hang-ms ${String(values['hang-ms'])}: must be a positive number of ms`)
const targets = (names.length === 0 ? TARGETS : TARGETS.filter(t => names.includes(t.name))).map(t => maxLen == null ? t : { ...t, maxLen })

if (values.replay != null) {
  if (targets.length !== 1) throw new RangeError('--replay needs exactly one --target')
  const target = targets[0]!
  const input = fromHex(values.replay)
  await target.setup?.()
  try {
    const outcome = await check(target, input, hangMs)
    console.log(`${target.name}: ${outcome.kind == null ? 'no violation' : `${outcome.kind}: ${outcome.detail ?? ''}`} (${outcome.ms.toFixed(1)} ms)`)
    process.exitCode = outcome.kind == null ? 0 : 1
  } finally {
    await target.teardown?.()
  }
} else {
  console.log(`fuzz: ${targets.length} targets, ${seconds} s each, seed ${seed} (repeat with --seed ${seed})`)
  const reports: TargetReport[] = []
  for (const target of targets) {
    const report = await fuzzTarget(target, { durationMs: seconds * 1000, seed, maxViolations: 10, hangMs })
    reports.push(report)
    console.log(formatReport(report))
    for (const kind of new Set(report.violations.map(v => v.kind))) {
      const known = KNOWN[target.name]?.[kind]
      if (known != null) console.log(`  (known ${kind}: ${known})`)
    }
  }
  if (values.json != null) await writeFile(values.json, JSON.stringify({ seed, seconds, reports }, null, 2) + '\n')
  const failed = reports.filter(r => unexpected(r.violations).length > 0)
  if (failed.length > 0) {
    console.log(`fuzz: property violations in ${failed.map(r => r.target).join(', ')}`)
    process.exitCode = 1
  }
}
