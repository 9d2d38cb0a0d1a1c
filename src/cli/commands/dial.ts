import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import { durationOf } from '../parse.js'
import type { DialResult, DialStage } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('dial')
    .description('connect to a peer by PeerId (found through the DHT) or multiaddr')
    .argument('<target>', 'PeerId or multiaddr')
    .option('--wait-direct <duration>', 'wait up to this long (10, 10s, 1500ms) for the hole-punched direct connection, showing each stage', durationOf('--wait-direct'))
    .option('--json', 'JSON output (NDJSON, one line per stage, with --wait-direct)')
    .action(async (target: string, opts: { json?: boolean, waitDirect?: number }, cmd: Command) => {
      const client = clientFor(cmd)
      if (opts.waitDirect == null) {
        const r = await client.post<DialResult>('/dial', { target })
        if (opts.json === true) printJson(r)
        else console.log(`connected to ${r.peerId} ${r.direct ? 'directly' : 'through a relay'} at ${r.remoteAddress} (${r.durationMs} ms)`)
        return
      }
      const seconds = opts.waitDirect / 1000
      let last: DialStage | undefined
      for await (const s of client.stream<DialStage>('POST', '/dial', { target, waitDirectSeconds: seconds })) {
        last = s
        if (opts.json === true) {
          console.log(JSON.stringify(s))
          continue
        }
        const t = `${(s.elapsedMs / 1000).toFixed(2).padStart(7)} s`
        switch (s.stage) {
          case 'lookup': console.log(`${t}  lookup     ${s.detail}`); break
          case 'found': console.log(`${t}  found      ${s.detail}`); break
          case 'relayed': console.log(`${t}  relayed    ${s.detail}`); break
          case 'punch-attempt': console.log(`${t}  punch #${s.attempt ?? '?'}   failed (relay RTT ${s.rttMs ?? '?'} ms): ${s.detail}`); break
          case 'udx-attempt': console.log(`${t}  udp ${s.method ?? '?'}${s.method === 'birthday' ? ` ${s.probes ?? 0} probes from ${s.sockets ?? 0} sockets` : ''}: ${s.outcome ?? '?'} after ${s.ms ?? '?'} ms${s.outcome === 'direct' && s.method === 'birthday' ? ` (hit after ${s.probes ?? 0})` : ''}: ${s.detail}`); break
          case 'direct': console.log(`${t}  direct     ${s.detail}`); break
          case 'no-direct': console.log(`${t}  no direct  ${s.detail}`); break
        }
      }
      if (last?.stage !== 'direct') process.exitCode = 3
    })
}
