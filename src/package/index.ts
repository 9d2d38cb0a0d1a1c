import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

/** The folder holding burrow's package.json (works from src/ and from dist/). */
export function packageRoot (): string {
  if (root != null) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('burrow: cannot find the package root')
    dir = up
  }
  root = dir
  return dir
}

let version: string | undefined

/** burrow's version, from package.json. */
export function packageVersion (): string {
  if (version != null) return version
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
  version = pkg.version
  return version
}
