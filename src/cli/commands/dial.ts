import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { DialResult } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('dial')
    .description('connect to a peer by PeerId (found through the DHT) or multiaddr')
    .argument('<target>', 'PeerId or multiaddr')
    .option('--json', 'JSON output')
    .action(async (target: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await clientFor(cmd).post<DialResult>('/dial', { target })
      if (opts.json === true) {
        printJson(r)
        return
      }
      console.log(`connected to ${r.peerId} ${r.direct ? 'directly' : 'through a relay'} at ${r.remoteAddress} (${r.durationMs} ms)`)
    })
}
