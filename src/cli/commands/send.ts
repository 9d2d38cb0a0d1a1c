import { randomUUID } from 'node:crypto'
import { clientFor, globals } from '../context.js'
import { fail, printJson } from '../output.js'
import type { SendResult } from '../../messaging/index.js'
import type { Command } from 'commander'

/** Exit code when the peer did not acknowledge yet but the outbox keeps retrying (EX_TEMPFAIL). */
const EXIT_QUEUED = 75

/** Codes for a message that stays queued: unreachable for now, rate limited, or the peer's inbox is full. */
const QUEUED_CODES = new Set(['ERR_PEER_UNREACHABLE', 'ERR_MESSAGE_RATE_LIMITED', 'ERR_PEER_INBOX_FULL'])

export function register (program: Command): void {
  program.command('send')
    .description("send one message; exits 0 only once the peer acknowledged it (75: queued, still retrying; 1: rejected or expired)")
    .argument('<peerId>', 'the recipient')
    .argument('<text>', "the message text, or '-' to read the body from stdin")
    .option('--content-type <type>', 'content type of the body')
    .option('--id <id>', 'message id (default: a new random one); resending the same id delivers it at most once')
    .option('--json', 'JSON output')
    .action(async (peer: string, text: string, opts: { json?: boolean, contentType?: string, id?: string }, cmd: Command) => {
      const body = text === '-'
        ? { base64: (await readStdin()).toString('base64'), contentType: opts.contentType ?? 'application/octet-stream' }
        : { text, contentType: opts.contentType }
      // the id is chosen here, so a queued message can be named (burrow outbox cancel ID) even when the send fails
      const id = opts.id ?? randomUUID()
      try {
        const r = await clientFor(cmd).post<SendResult>('/send', { peer, id, ...body })
        if (opts.json === true) printJson({ ...r, state: 'acknowledged' })
        else console.log(`delivered ${r.id} to ${peer} via ${r.via} (${r.rttMs} ms)`)
      } catch (err) {
        const code = (err as { code?: string }).code
        const queued = code != null && QUEUED_CODES.has(code)
        // --json: stdout always carries the result, the one-line error still goes to stderr
        if (opts.json === true) printJson({ id, to: peer, state: queued ? 'queued' : 'failed', code: code ?? 'ERR_UNKNOWN', error: (err as Error).message })
        fail(err, globals(cmd).verbose === true, queued ? EXIT_QUEUED : 1)
      }
    })
}

async function readStdin (): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
