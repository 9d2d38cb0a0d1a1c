import { BurrowError } from '../errors/index.js'

/**
 * A UDX punch that did not make a direct path: `code` says which step failed
 * (`PROBE_TIMEOUT`, `PROBE_ABORTED`, `PROBE_BUDGET`, `PROBE_CAPS`, `PROBE_SOCKETS`), the
 * message says what happened and what to do, in one line.
 */
export class UdxPunchError extends BurrowError {
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}
