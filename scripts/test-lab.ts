/**
 * `npm run test:lab`: every test outside test/unit, one file at a time, and beside them the
 * long ones in test/long (tests that mostly wait, such as 10 minutes of an idle connection),
 * so their waiting costs no wall-clock time of its own. Each long test's output is printed
 * when it ends; the exit code is non-zero when any test failed.
 *
 * Last of all comes a short list of the failed tests, each with the head of its TAP block
 * (error, location, stack), because a CI log is often read from its end.
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..')
const node = process.execPath
const FAILURE_LINES = 40

function run (args: string[], echo: boolean): Promise<{ code: number, output: string }> {
  return new Promise(resolve => {
    const child = spawn(node, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); if (echo) process.stdout.write(d) })
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); if (echo) process.stderr.write(d) })
    child.on('close', code => { resolve({ code: code ?? 1, output }) })
  })
}

/** Each `not ok` line of a TAP output that is not a TODO, with the lines of its block. */
function failures (tap: string): string[] {
  const lines = tap.split('\n')
  const found: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const m = /^(\s*)not ok \d+ - /.exec(line)
    if (m === null || /# TODO\b/.test(line)) continue
    const block = [line]
    const indent = m[1].length
    for (let j = i + 1; j < lines.length && block.length < FAILURE_LINES; j++) {
      const next = lines[j]
      block.push(next)
      if (next.trim() === '...' && next.length - next.trimStart().length <= indent + 2) break
    }
    found.push(block.join('\n'))
  }
  return found
}

const longFiles = readdirSync(join(ROOT, 'test', 'long')).filter(f => f.endsWith('.test.ts')).map(f => join('test', 'long', f))
const long = longFiles.length > 0 ? run(['--test', '--test-concurrency=1', ...longFiles], false) : Promise.resolve({ code: 0, output: '' })
const rest = await run(['--test', '--test-concurrency=1', 'test/!(unit|long)/**/*.test.ts'], true)
const longResult = await long
if (longFiles.length > 0) {
  process.stdout.write(`\n# long tests (${longFiles.join(', ')}), run beside the others:\n${longResult.output}`)
}
const failed = [...failures(rest.output), ...failures(longResult.output)]
if (failed.length > 0) {
  process.stdout.write(`\n# ${failed.length} failed (suites count as well as their tests), each with the head of its block:\n${failed.join('\n')}\n`)
}
process.exitCode = rest.code !== 0 ? rest.code : longResult.code
