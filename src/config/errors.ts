import { BurrowError } from '../errors/index.js'

/** A setting that cannot be used: names the field, the value and where it came from. */
export class InvalidConfigError extends BurrowError {
  readonly field: string

  constructor (field: string, message: string) {
    super('ERR_INVALID_CONFIG', message)
    this.field = field
  }
}

/** A home dir or config file that someone else owns or can write: not trusted. */
export class InsecureHomeError extends BurrowError {
  readonly path: string

  constructor (path: string, problem: string) {
    super('ERR_INSECURE_HOME', `${path} ${problem}`)
    this.path = path
  }
}
