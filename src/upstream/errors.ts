import { BurrowError } from '../errors/index.js'

/**
 * A dependency no longer has the shape one of burrow's patches reaches into. One line:
 * `UPSTREAM_CHANGED: patch ID written for PACKAGE RANGE finds no SHAPE in VERSION; …`.
 */
export class UpstreamChangedError extends BurrowError {
  /** the patch, as in src/upstream (e.g. 'relay-limit-codec') */
  readonly patch: string
  /** the installed version of the package it patches */
  readonly installed: string

  constructor (patch: { id: string, package: string, writtenFor: string, file: string }, installed: string, missing: string) {
    super('UPSTREAM_CHANGED', `patch ${patch.id} written for ${patch.package} ${patch.writtenFor} finds no ${missing} in ${installed}; pin ${patch.package} to ${patch.writtenFor} or update ${patch.file}`)
    this.patch = patch.id
    this.installed = installed
  }
}
