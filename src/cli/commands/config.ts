import { homeOf } from '../context.js'
import { printJson } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  const config = program.command('config').description('show settings: defaults < config.json < BURROW_* env < flags')
  config.command('show')
    .description('the effective config for this home dir (validated)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { loadConfig } = await import('../../config/index.js')
      printJson(await loadConfig({ home: homeOf(cmd), env: process.env }))
    })
  config.command('defaults')
    .description('every setting, its default, environment variable and flag')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { FIELDS } = await import('../../config/index.js')
      if (opts.json === true) {
        printJson(FIELDS)
        return
      }
      for (const f of FIELDS) {
        console.log(`${f.path} = ${JSON.stringify(f.default)}  [${f.env}${f.flag != null ? `, ${f.flag}` : ''}]\n    ${f.doc}`)
      }
    })
}
