import { InvalidInputError } from '../../errors/index.js'
// the NAT kinds' room alone: the rest of the lab loads when `burrow lab` runs
import { NAT_KINDS } from '../../lab/nat.js'
import { fail, printJson } from '../output.js'
import { parseDuration } from '../parse.js'
import { globals } from '../context.js'
import type { LabTransport, NatKind } from '../../lab/index.js'
import type { Command } from 'commander'

interface LabFlags {
  a: string
  b: string
  delay: string
  transport: string
  directTimeout: string
  json?: boolean
}

function natKind (text: string, flag: string): NatKind {
  if (!(NAT_KINDS as readonly string[]).includes(text)) throw new InvalidInputError(`${flag} must be one of ${NAT_KINDS.join(', ')}, not "${text}"`)
  return text as NatKind
}

export function register (program: Command): void {
  program.command('lab')
    .description('run a NAT scenario in network namespaces (root only): relay + peers A and B behind NATs; B finds, dials and messages A, then waits for the direct upgrade')
    .option('--a <nat>', `NAT in front of peer A: ${NAT_KINDS.join(', ')}`, 'cone')
    .option('--b <nat>', `NAT in front of peer B: ${NAT_KINDS.join(', ')}`, 'cone')
    .option('--delay <ms>', 'one-way delay on each router\'s WAN link (e.g. 25 or 25ms)', '0')
    .option('--transport <t>', 'tcp or udp', 'tcp')
    .option('--direct-timeout <s>', 'how long to wait for the direct upgrade (e.g. 30s)', '30s')
    .option('--json', 'print the report as JSON')
    .action(async (flags: LabFlags, cmd: Command) => {
      const verbose = globals(cmd).verbose === true
      const { formatReport, labUnavailableReason, runScenario } = await import('../../lab/index.js')
      const why = labUnavailableReason()
      if (why !== undefined) {
        console.error(`burrow: ${why}`)
        process.exit(1)
      }
      try {
        const transport = flags.transport
        if (transport !== 'tcp' && transport !== 'udp') throw new InvalidInputError(`--transport must be tcp or udp, not "${transport}"`)
        const report = await runScenario({
          a: natKind(flags.a, '--a'),
          b: natKind(flags.b, '--b'),
          delayMs: parseDuration(flags.delay, '--delay', 'ms'),
          transport: transport as LabTransport,
          directTimeoutMs: parseDuration(flags.directTimeout, '--direct-timeout', 's'),
          onProgress: flags.json === true ? undefined : (line) => { console.error(`… ${line}`) }
        })
        if (flags.json === true) printJson(report)
        else console.log(formatReport(report))
        process.exitCode = report.ok ? 0 : 3
      } catch (err) {
        fail(err, verbose)
      }
    })
}
