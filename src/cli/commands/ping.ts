import { clientFor } from '../context.js'
import { countOf } from '../parse.js'
import type { PingReply } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('ping')
    .description('round trips to a peer and the path each took (relayed, direct); like `tailscale ping`, stops once the path is direct')
    .argument('<peerId>', 'the peer (found like `burrow dial` finds it: DHT, or its rendezvous record when private)')
    .option('--count <n>', 'at most this many pings (1–1000; default 10)', countOf('--count', 1, 1000))
    .option('--no-until-direct', 'send all --count pings, also after the path went direct')
    .option('--json', 'NDJSON output, one line per reply')
    .action(async (peer: string, opts: { count?: number, untilDirect: boolean, json?: boolean }, cmd: Command) => {
      const rtts: number[] = []
      let last: PingReply | undefined
      for await (const r of clientFor(cmd).stream<PingReply>('POST', '/ping', { peer, ...(opts.count != null ? { count: opts.count } : {}), untilDirect: opts.untilDirect })) {
        rtts.push(r.rttMs)
        last = r
        if (opts.json === true) {
          console.log(JSON.stringify(r))
          continue
        }
        if (r.changed) console.log(`path changed: now ${r.path}`)
        const via = r.path === 'direct' ? `direct (${r.remoteAddress})` : `relay ${r.via ?? r.remoteAddress}`
        console.log(`pong ${r.seq} from ${peer} via ${via} in ${r.rttMs} ms`)
      }
      if (opts.json !== true && rtts.length > 0) {
        const sorted = [...rtts].sort((a, b) => a - b)
        console.log(`${rtts.length} replies, min/median/max ${sorted[0]}/${sorted[Math.floor(sorted.length / 2)]}/${sorted[sorted.length - 1]} ms; path ${last?.path === 'direct' ? 'direct' : 'still relayed (no direct path yet; see `burrow status` whyRelayed)'}`)
      }
    })
}
