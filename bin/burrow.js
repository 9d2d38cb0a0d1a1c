#!/usr/bin/env node
// The `burrow` binary. burrow needs Node >= 22 (libp2p 3 uses Promise.withResolvers).
// Machines that still carry an older Node get Node 22 from the `node` npm package
// (a devDependency that ships the binary): when the running Node is too old and that
// binary is present, re-run this script with it. This file must stay plain JS that
// every Node version can parse.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const major = Number(process.versions.node.split('.')[0])

if (major >= 22) {
  await import(join(here, '..', 'dist', 'cli', 'index.js'))
} else {
  const bundled = join(here, '..', 'node_modules', 'node', 'bin', 'node')
  if (!existsSync(bundled)) {
    console.error(`burrow: Node ${process.versions.node} is too old (need >= 22); install Node 22, or run 'npm install' in ${join(here, '..')} to fetch it`)
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
