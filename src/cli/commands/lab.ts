import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BurrowError, InvalidInputError } from '../../errors/index.js'
import { fail, printJson } from '../output.js'
import { parseDuration } from '../parse.js'
import { globals } from '../context.js'
import type { Command } from 'commander'

/**
 * The NAT lab is tooling, not product: it lives in the repository's `lab/` (built to `lab/dist/` by
 * `npm run build`), outside `src/`, and the package does not ship it. `burrow lab` loads it from
 * there when the command runs; nothing in `src/` imports it.
 */
export const LAB_ENTRY = fileURLToPath(new URL('../../../lab/dist/index.js', import.meta.url))

/** What `burrow lab` uses of the lab (`lab/index.ts`); test/lab/scenario.test.ts type-checks the lab against it. */
export interface LabScenarioModule {
  NAT_KINDS: readonly string[]
  labUnavailableReason: () => string | undefined
  runScenario: (init: {
    a: never
    b: never
    delayMs: number
    transport: 'tcp' | 'udp'
    directTimeoutMs: number
    onProgress?: (line: string) => void
  }) => Promise<{ ok: boolean }>
  formatReport: (report: never) => string
}

/** `burrow lab` run from an installed package, where the lab is not shipped. */
export class LabUnavailableError extends BurrowError {
  constructor (entry: string) {
    super('ERR_LAB_UNAVAILABLE', `the NAT lab ships only with the repository (${entry} is missing): clone burrow's repository, run \`npm install && npm run build\` there and run its bin/burrow.js lab`)
  }
}

async function loadLab (): Promise<LabScenarioModule> {
  if (!existsSync(LAB_ENTRY)) throw new LabUnavailableError(LAB_ENTRY)
  return await import(pathToFileURL(LAB_ENTRY).href) as LabScenarioModule
}

interface LabFlags {
  a: string
  b: string
  delay: string
  transport: string
  directTimeout: string
  json?: boolean
}

function natKind (lab: LabScenarioModule, text: string, flag: string): never {
  if (!lab.NAT_KINDS.includes(text)) throw new InvalidInputError(`${flag} must be one of ${lab.NAT_KINDS.join(', ')}, not "${text}"`)
  return text as never
}

export function register (program: Command): void {
  program.command('lab')
    .description('run a NAT scenario in network namespaces (root only, from a clone of the repository): relay + peers A and B behind NATs; B finds, dials and messages A, then waits for the direct upgrade')
    .option('--a <nat>', 'NAT in front of peer A: none, cone or symmetric', 'cone')
    .option('--b <nat>', 'NAT in front of peer B: none, cone or symmetric', 'cone')
    .option('--delay <ms>', 'one-way delay on each router\'s WAN link (e.g. 25 or 25ms)', '0')
    .option('--transport <t>', 'tcp or udp', 'tcp')
    .option('--direct-timeout <s>', 'how long to wait for the direct upgrade (e.g. 30s)', '30s')
    .option('--json', 'print the report as JSON')
    .action(async (flags: LabFlags, cmd: Command) => {
      const verbose = globals(cmd).verbose === true
      try {
        const lab = await loadLab()
        const why = lab.labUnavailableReason()
        if (why !== undefined) {
          console.error(`burrow: ${why}`)
          process.exit(1)
        }
        const transport = flags.transport
        if (transport !== 'tcp' && transport !== 'udp') throw new InvalidInputError(`--transport must be tcp or udp, not "${transport}"`)
        const report = await lab.runScenario({
          a: natKind(lab, flags.a, '--a'),
          b: natKind(lab, flags.b, '--b'),
          delayMs: parseDuration(flags.delay, '--delay', 'ms'),
          transport,
          directTimeoutMs: parseDuration(flags.directTimeout, '--direct-timeout', 's'),
          onProgress: flags.json === true ? undefined : (line) => { console.error(`… ${line}`) }
        })
        if (flags.json === true) printJson(report)
        else console.log(lab.formatReport(report as never))
        process.exitCode = report.ok ? 0 : 3
      } catch (err) {
        fail(err, verbose)
      }
    })
}
