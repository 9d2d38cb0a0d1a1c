import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { ConnectionInfo } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('peers')
    .description('connected peers: PeerId, remote address, direct or relayed, RTT')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const conns = await clientFor(cmd).get<ConnectionInfo[]>('/peers')
      if (opts.json === true) {
        printJson(conns)
        return
      }
      if (conns.length === 0) console.log('no connected peers')
      for (const c of conns) {
        console.log(`${c.peerId}  ${c.direct ? 'direct ' : 'relayed'}  ${c.rttMs != null ? `${String(c.rttMs).padStart(5)} ms` : '    ? ms'}  ${c.remoteAddress}`)
      }
    })
}
