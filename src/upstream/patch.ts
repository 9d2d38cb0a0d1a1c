import { UpstreamChangedError } from './errors.js'
import { installedVersion } from './versions.js'

/** One place where burrow reaches into a dependency, and why. */
export interface UpstreamPatch {
  /** a stable name, used in the failure line */
  id: string
  /** the npm package it reaches into */
  package: string
  /** the version range it was written for (`MAJOR.MINOR.x`) */
  writtenFor: string
  /** the upstream issue (URL), or 'none filed' with the defect in one line */
  issue: string
  /** what it does, in one line */
  what: string
  /** the file that holds it */
  file: string
}

/** The failure for `patch` when `missing` is not there in the installed version. */
export function changed (patch: UpstreamPatch, missing: string, installed?: string): UpstreamChangedError {
  return new UpstreamChangedError(patch, installed ?? installedVersion(patch.package), missing)
}

/** Loads a module of `patch.package` that its exports do not list, by its file next to the root export. */
export async function importInternal (patch: UpstreamPatch, relativeToRoot: string): Promise<unknown> {
  let url: URL
  try {
    url = new URL(relativeToRoot, import.meta.resolve(patch.package))
  } catch {
    throw changed(patch, 'package root to resolve')
  }
  try {
    return await import(url.href) as unknown
  } catch {
    throw changed(patch, `module ${relativeToRoot} next to its root export`)
  }
}

/** `obj[key]` when obj is an object, else undefined. */
export function field (obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj != null ? (obj as Record<string, unknown>)[key] : undefined
}
