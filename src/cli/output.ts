import { describeError } from '../errors/index.js'

/** Errors: one line to stderr (`code: message`), a stack only with --verbose. */
export function fail (err: unknown, verbose = false, exitCode = 1): never {
  console.error(`burrow: ${describeError(err)}`)
  if (verbose && err instanceof Error && err.stack != null) console.error(err.stack)
  process.exit(exitCode)
}

export function printJson (value: unknown): void {
  console.log(JSON.stringify(value, null, 2))
}

/** Repeatable option collector for commander. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}
