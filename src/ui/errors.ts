import { BurrowError } from '../errors/index.js'

/** The live view's port could not be bound (taken, or an address this host does not have). */
export class UiListenError extends BurrowError {
  constructor (address: string, reason: string, options?: ErrorOptions) {
    super('ERR_UI_LISTEN', `cannot serve the live view on ${address} (${reason}): pick another --ui HOST:PORT, or leave it off`, options)
  }
}
