import { clientFor, homeOf } from '../context.js'
import { printJson } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  const config = program.command('config').description('show settings: defaults < config.json < BURROW_* env < flags')
  config.command('show')
    .description("the running daemon's config (its flags included); with no daemon, what config.json and BURROW_* give")
    .option('--json', 'JSON output: { source: "daemon" | "file", config }')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const home = homeOf(cmd)
      let source: 'daemon' | 'file' = 'daemon'
      let config: unknown
      try {
        config = await clientFor(cmd).get('/config')
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_NO_DAEMON') throw err
        const { loadConfig } = await import('../../config/index.js')
        source = 'file'
        config = await loadConfig({ home, env: process.env })
      }
      if (opts.json === true) {
        printJson({ source, config })
        return
      }
      console.log(source === 'daemon'
        ? `# the config of the daemon running for ${home} (defaults < config.json < BURROW_* < its flags)`
        : `# no daemon runs for ${home}: defaults < config.json < BURROW_* (a daemon's flags would come on top)`)
      printJson(config)
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
