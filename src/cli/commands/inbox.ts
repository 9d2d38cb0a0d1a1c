import { clientFor } from '../context.js'
import type { Command } from 'commander'

interface InboxLine { id: string, from: string, receivedAt: string, text?: string, base64?: string, bytes: number, via: string }

export function register (program: Command): void {
  program.command('inbox')
    .description('messages received (NDJSON with --json)')
    .option('--follow', 'keep printing messages as they arrive')
    .option('--json', 'NDJSON output, one message per line')
    .action(async (opts: { follow?: boolean, json?: boolean }, cmd: Command) => {
      const path = opts.follow === true ? '/inbox?follow=1' : '/inbox'
      let n = 0
      for await (const m of clientFor(cmd).stream<InboxLine>('GET', path)) {
        n++
        if (opts.json === true) console.log(JSON.stringify(m))
        else console.log(`${m.receivedAt}  ${m.from}  ${m.text ?? `<${m.bytes} bytes>`}`)
      }
      if (n === 0 && opts.json !== true) console.log('inbox is empty')
    })
}
