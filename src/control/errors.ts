import { BurrowError } from '../errors/index.js'

export class NoDaemonError extends BurrowError {
  constructor (home: string) {
    super('ERR_NO_DAEMON', `no burrow daemon is running for ${home}; start one with 'burrow daemon'`)
  }
}

export class DaemonRunningError extends BurrowError {
  constructor (socket: string) {
    super('ERR_DAEMON_RUNNING', `a burrow daemon already answers on ${socket}; stop it first, or pick another --home`)
  }
}

/** An error the daemon reported, carried to the client with its code. */
export class RemoteError extends BurrowError {
  readonly status: number

  constructor (code: string, message: string, status: number) {
    super(code, message)
    this.status = status
  }
}

/**
 * The control socket (or the dir it is in) is not certainly ours: another user could be
 * answering in the daemon's place and capture what we send. Nothing is sent.
 */
export class UntrustedSocketError extends BurrowError {
  constructor (path: string, problem: string, fix = `remove it ('rm ${path}') and start 'burrow daemon' again`) {
    super('ERR_UNTRUSTED_SOCKET', `${path} ${problem}; nothing was sent: ${fix}`)
  }
}
