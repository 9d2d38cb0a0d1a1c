import { InvalidInputError } from '../../errors/index.js'
import { clientFor } from '../context.js'
import type { Command } from 'commander'

interface InboxLine { id: string, from: string, receivedAt: string, text?: string, base64?: string, bytes: number, via: string }

export function register (program: Command): void {
  program.command('inbox')
    .description('messages received (NDJSON with --json)')
    .option('--follow', 'keep printing messages as they arrive')
    .option('--json', 'NDJSON output, one message per line')
    .option('--clear', 'delete the received messages (all, or those before --before), freeing the inbox quota')
    .option('--before <time>', 'with --clear: only messages received before this ISO 8601 time')
    .option('--since <time|id>', 'only messages received at or after this ISO 8601 time, or after the message with this id')
    .action(async (opts: { follow?: boolean, json?: boolean, clear?: boolean, before?: string, since?: string }, cmd: Command) => {
      if (opts.clear === true) {
        let beforeMs: number | undefined
        if (opts.before != null) {
          beforeMs = Date.parse(opts.before)
          if (!Number.isSafeInteger(beforeMs)) throw new InvalidInputError(`--before ${opts.before}: not an ISO 8601 time (example: 2026-01-31T12:00:00Z)`)
        }
        const r = await clientFor(cmd).post<{ deleted: number }>('/inbox/clear', beforeMs != null ? { beforeMs } : {})
        if (opts.json === true) console.log(JSON.stringify(r))
        else console.log(`deleted ${r.deleted} message(s) from the inbox`)
        return
      }
      const query = new URLSearchParams()
      if (opts.follow === true) query.set('follow', '1')
      if (opts.since != null) {
        // a time if it reads as one (2026-11-30T08:00:00Z), else a message id
        const ms = /^\d{4}-\d\d-\d\d/.test(opts.since) ? Date.parse(opts.since) : NaN
        if (Number.isSafeInteger(ms)) query.set('since', String(ms))
        else if (/^\d{4}-\d\d-\d\d/.test(opts.since)) throw new InvalidInputError(`--since ${opts.since}: not an ISO 8601 time (example: 2026-01-31T12:00:00Z)`)
        else query.set('after', opts.since)
      }
      const path = `/inbox${query.size > 0 ? `?${query.toString()}` : ''}`
      let n = 0
      for await (const m of clientFor(cmd).stream<InboxLine>('GET', path)) {
        n++
        if (opts.json === true) console.log(JSON.stringify(m))
        else console.log(`${m.receivedAt}  ${m.from}  ${m.text ?? `<${m.bytes} bytes>`}`)
      }
      if (n === 0 && opts.json !== true) console.log('inbox is empty')
    })
}
