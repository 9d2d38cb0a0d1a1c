import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { Command } from 'commander'

interface OutboxJson { id: string, to: string, state: string, createdAt: string, expiresAt: string, attempts: number, lastError?: string }

export function register (program: Command): void {
  const outbox = program.command('outbox')
    .description('messages not yet acknowledged (pending, retried until they expire) or given up on (failed)')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const entries = await clientFor(cmd).get<OutboxJson[]>('/outbox')
      if (opts.json === true) {
        printJson(entries)
        return
      }
      if (entries.length === 0) {
        console.log('the outbox is empty')
        return
      }
      for (const e of entries) {
        console.log(`${e.id}  to ${e.to}  ${e.state}, ${e.attempts} attempt(s), since ${e.createdAt}, until ${e.expiresAt}${e.lastError != null ? `; last error: ${e.lastError}` : ''}`)
      }
    })
  outbox.command('cancel')
    .description('take a message out of the outbox: it is not retried any more')
    .argument('<id>', 'the message id (burrow outbox lists them)')
    .option('--json', 'JSON output')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const e = await clientFor(cmd).post<OutboxJson>('/outbox/cancel', { id })
      if (opts.json === true) printJson(e)
      else console.log(`cancelled ${e.id} to ${e.to} (${e.state}, ${e.attempts} attempt(s))`)
    })
}
