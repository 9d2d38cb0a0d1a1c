import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const cache = new Map<string, string>()

/**
 * The installed version of a package, from its package.json (found by walking up from the
 * file its root export resolves to: most packages do not export package.json).
 * 'unknown' when it cannot be read.
 */
export function installedVersion (pkg: string): string {
  const known = cache.get(pkg)
  if (known != null) return known
  let version = 'unknown'
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)))
    for (let i = 0; i < 8; i++) {
      const json = readJson(join(dir, 'package.json'))
      if (json?.name === pkg && typeof json.version === 'string') {
        version = json.version
        break
      }
      const up = dirname(dir)
      if (up === dir) break
      dir = up
    }
  } catch {}
  cache.set(pkg, version)
  return version
}

function readJson (path: string): { name?: unknown, version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown, version?: unknown }
  } catch {
    return undefined
  }
}

/** Whether `version` is in a range written as `MAJOR.x` or `MAJOR.MINOR.x`. */
export function inRange (version: string, range: string): boolean {
  const want = range.split('.').filter(p => p !== 'x')
  const have = version.split(/[.+-]/)
  return want.length > 0 && want.every((p, i) => have[i] === p)
}
