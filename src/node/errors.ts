import { BurrowError } from '../errors/index.js'

export class InvalidPeerIdError extends BurrowError {
  constructor (value: string) {
    super('ERR_INVALID_PEER_ID', `'${value}' is not a valid PeerId (expected e.g. 12D3KooW… or Qm…)`)
  }
}

export class InvalidMultiaddrError extends BurrowError {
  constructor (value: string, reason: string) {
    super('ERR_INVALID_MULTIADDR', `'${value}' is not a valid multiaddr: ${reason}`)
  }
}

export class PeerNotFoundError extends BurrowError {
  constructor (peer: string, reason: string, advice = 'check the PeerId, or that the peer is online') {
    super('ERR_PEER_NOT_FOUND', `peer ${peer} was not found in the DHT (${reason}); ${advice}`)
  }
}

export class DialFailedError extends BurrowError {
  constructor (target: string, reason: string, options?: ErrorOptions) {
    super('ERR_DIAL_FAILED', `could not connect to ${target}: ${reason}`, options)
  }
}

export class NotStartedError extends BurrowError {
  constructor () {
    super('ERR_NOT_STARTED', 'the node is not running; call start() first')
  }
}

export class HomeInUseError extends BurrowError {
  constructor (home: string) {
    super('ERR_HOME_IN_USE', `another burrow daemon is using ${home}; stop it first, or pick another --home`)
  }
}

export class DatastoreOpenError extends BurrowError {
  constructor (path: string, reason: string, options?: ErrorOptions) {
    super('ERR_DATASTORE', `could not open the datastore ${path} (${reason}): another burrow process may hold it, or the disk is full or read-only; check with 'burrow status', or pick another --home`, options)
  }
}

export class ListenFailedError extends BurrowError {
  constructor (addresses: string[], reason: string, options?: ErrorOptions) {
    super('ERR_PORT_IN_USE', `cannot listen on ${addresses.join(', ')}: ${reason}`, options)
  }
}
