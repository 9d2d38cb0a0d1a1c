import { BurrowError } from '../errors/index.js'

/** A UDX socket could not be bound or used. */
export class UdxSocketError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UDX_SOCKET', message, options)
  }
}

/** A UDX stream handshake (BRWH) got no answer or was refused. */
export class UdxHandshakeError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UDX_HANDSHAKE', message, options)
  }
}

/** A UDX punch attempt did not give a direct connection. */
export class UdxPunchError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UDX_PUNCH', message, options)
  }
}

/** A peer sent a punch message that breaks the protocol. */
export class UdxProtocolError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UDX_PROTOCOL', message, options)
  }
}
