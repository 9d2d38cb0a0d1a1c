import { InvalidInputError } from '../../errors/index.js'
import { formatEvent } from '../../events/index.js'
import { clientFor } from '../context.js'
import type { BurrowEvent } from '../../events/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('events')
    .description('follow what the node does: reachability, mappings, reservations, connections, hole punches, messages (NDJSON with --json)')
    .option('--json', 'NDJSON output, one event per line: {seq, time, type, data}')
    .option('--since <seq>', 'first the events the daemon kept after this sequence number (0: all it kept)')
    .option('--no-follow', 'with --since: print the kept events and exit')
    .action(async (opts: { json?: boolean, since?: string, follow: boolean }, cmd: Command) => {
      const query = new URLSearchParams()
      if (opts.since != null) {
        if (!/^\d{1,15}$/.test(opts.since)) throw new InvalidInputError(`--since ${opts.since}: must be an event sequence number (0 or more; 'burrow events --json' shows each event's seq)`)
        query.set('since', opts.since)
      }
      if (!opts.follow) query.set('follow', '0')
      const path = `/events${query.size > 0 ? `?${query.toString()}` : ''}`
      const onOpen = (): void => { if (opts.follow) process.stderr.write('burrow: following events (Ctrl-C to stop)\n') }
      for await (const e of clientFor(cmd).stream<BurrowEvent>('GET', path, undefined, undefined, onOpen)) {
        if (opts.json === true) console.log(JSON.stringify(e))
        else console.log(`${e.time}  ${formatEvent(e)}`)
      }
    })
}
