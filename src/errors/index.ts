/**
 * The base of every error burrow raises on purpose. Each failure is its own class
 * (in the errors.ts of the capability that raises it), with `name` equal to the
 * class name and a stable `code` that scripts and the control API rely on. The CLI
 * prints `code: message` on one line.
 */
export class BurrowError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }

  toJSON (): { name: string, code: string, message: string } {
    return { name: this.name, code: this.code, message: this.message }
  }
}

/** Input from a user (flag, config, argument) that cannot be used as given. */
export class InvalidInputError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_INVALID_INPUT', message, options)
  }
}

/** An operation that did not finish in the time allowed. */
export class TimeoutError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_TIMEOUT', message, options)
  }
}

/** One line for any thrown value: `code: message` for ours, the message otherwise. */
export function describeError (err: unknown): string {
  if (err instanceof BurrowError) {
    return `${err.code}: ${err.message}`
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const first = err.message.split('\n')[0] ?? err.name
    return typeof code === 'string' ? `${code}: ${first}` : `${err.name}: ${first}`
  }
  return String(err)
}
