import { BurrowError } from '../errors/index.js'

/** The gateway did not answer a NAT-PMP, PCP or UPnP request in time. */
export class GatewayTimeoutError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_GATEWAY_TIMEOUT', message, options)
  }
}

/** The gateway answered, but refused or could not make the mapping. */
export class MappingRefusedError extends BurrowError {
  /** the protocol's own result or error code */
  readonly resultCode: number

  constructor (message: string, resultCode: number, options?: ErrorOptions) {
    super('ERR_MAPPING_REFUSED', message, options)
    this.resultCode = resultCode
  }
}

/** A reply that does not follow the protocol (wrong size, version, opcode, XML). */
export class MalformedResponseError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_MALFORMED_RESPONSE', message, options)
  }
}

/** No default gateway to ask (no route, unsupported platform). */
export class NoGatewayError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_NO_GATEWAY', message, options)
  }
}
