import { BurrowError } from '../errors/index.js'

/** The metrics port could not be bound (taken, or an address this host does not have). */
export class MetricsListenError extends BurrowError {
  constructor (address: string, reason: string, options?: ErrorOptions) {
    super('ERR_METRICS_LISTEN', `cannot serve metrics on ${address} (${reason}): pick another --metrics HOST:PORT, or leave it off`, options)
  }
}
