import { clientFor } from '../context.js'
import { countOf } from '../parse.js'
import type { PingReply } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('ping')
    .description('round trips to a peer, and over which path (direct or relayed)')
    .argument('<peerId>', 'the peer')
    .option('--count <n>', 'number of pings (1–1000)', countOf('--count', 1, 1000), 4)
    .option('--json', 'NDJSON output, one line per reply')
    .action(async (peer: string, opts: { count: number, json?: boolean }, cmd: Command) => {
      const count = opts.count
      const rtts: number[] = []
      for await (const r of clientFor(cmd).stream<PingReply>('POST', '/ping', { peer, count })) {
        rtts.push(r.rttMs)
        if (opts.json === true) console.log(JSON.stringify(r))
        else console.log(`reply ${r.seq} from ${peer}: ${r.rttMs} ms via ${r.path} (${r.remoteAddress})`)
      }
      if (opts.json !== true && rtts.length > 0) {
        const sorted = [...rtts].sort((a, b) => a - b)
        console.log(`${rtts.length} replies, min/median/max ${sorted[0]}/${sorted[Math.floor(sorted.length / 2)]}/${sorted[sorted.length - 1]} ms`)
      }
    })
}
