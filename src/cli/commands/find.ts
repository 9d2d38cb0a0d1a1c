import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { FindResult } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('find')
    .description('look a peer up in the DHT: the addresses at which it can be reached')
    .argument('<peerId>', 'the PeerId to find')
    .option('--json', 'JSON output')
    .action(async (peer: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await clientFor(cmd).post<FindResult>('/find', { peer })
      if (opts.json === true) {
        printJson(r)
        return
      }
      console.log(`${r.peerId} (found in ${r.durationMs} ms)`)
      for (const a of r.addresses) console.log(`  ${a}`)
    })
}
