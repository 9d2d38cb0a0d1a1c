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
  constructor (message: string, options?: ErrorOptions, code = 'ERR_UDX_PUNCH') {
    super(code, message, options)
  }
}

/**
 * Birthday probing did not find a socket pair: `code` says which step failed
 * (`PROBE_TIMEOUT`, `PROBE_ABORTED`, `PROBE_BUDGET`, `PROBE_CAPS`, `PROBE_SOCKETS`), the
 * message says what happened and what to do, in one line.
 */
export class UdxProbeError extends UdxPunchError {
  /** what the attempt had done when it failed (for the attempt record): probes sent, probe sockets opened */
  readonly probes: number
  readonly sockets: number
  constructor (code: string, message: string, options?: ErrorOptions & { probes?: number, sockets?: number }) {
    super(message, options, code)
    this.probes = options?.probes ?? 0
    this.sockets = options?.sockets ?? 0
  }
}

/** A peer sent a punch message that breaks the protocol. */
export class UdxProtocolError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UDX_PROTOCOL', message, options)
  }
}
