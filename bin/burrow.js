#!/usr/bin/env node
// The `burrow` binary. burrow needs Node >= 22.12 (package.json "engines"; libp2p 3 uses
// Promise.withResolvers and require(esm)). This file must stay plain JS that every Node
// version can parse.
//
// In a git clone, `npm install` brings Node 22 through the `node` devDependency: when the
// running Node is too old and that binary is there, re-run this script with it (the README's
// "npm install && npm start" on a machine with an older Node). An installed package (npm -g,
// the image) has no such binary: there the only fix is a newer Node, said in one line.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const NEED = [22, 12]
const here = dirname(fileURLToPath(import.meta.url))
const [major, minor] = process.versions.node.split('.').map(Number)

if (major > NEED[0] || (major === NEED[0] && minor >= NEED[1])) {
  // the daemon runs with glibc's malloc set for a long-running process (src/memory): re-run
  // in place with it now, before the CLI's modules load (~40 ms), not after them (~110 ms)
  if (process.argv.slice(2).includes('daemon')) {
    const { relaunch } = await import(join(here, '..', 'dist', 'memory', 'index.js'))
    relaunch({ tuneMalloc: true })
  }
  await import(join(here, '..', 'dist', 'cli', 'index.js'))
} else {
  const root = join(here, '..')
  const bundled = join(root, 'node_modules', 'node', 'bin', 'node')
  if (!existsSync(bundled)) {
    console.error(`burrow: ERR_NODE_TOO_OLD: Node ${process.versions.node} (${process.execPath}) is too old, burrow needs Node >= ${NEED.join('.')}: install Node 22 LTS (e.g. 'nvm install 22', or your system's nodejs 22 package) and put it first on PATH`)
    process.exit(1)
  }
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  // Ctrl-C reaches the whole process group, the child included: forwarding SIGINT too
  // would count as a second signal and force the daemon down. SIGTERM/SIGHUP are sent
  // to this PID alone, so pass them on.
  process.on('SIGINT', () => {})
  for (const sig of ['SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { child.kill(sig) })
  }
  child.on('exit', (code, signal) => {
    if (signal != null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
