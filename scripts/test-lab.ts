/**
 * `npm run test:lab`: every test outside test/unit, one file at a time, and beside them the
 * long ones in test/long (tests that mostly wait, such as 10 minutes of an idle connection),
 * so their waiting costs no wall-clock time of its own. Each long test's output is printed
 * when it ends; the exit code is non-zero when any test failed.
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..')
const node = process.execPath

function run (args: string[], capture: boolean): Promise<{ code: number, output: string }> {
  return new Promise(resolve => {
    const child = spawn(node, args, { cwd: ROOT, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' })
    let output = ''
    child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
    child.on('close', code => { resolve({ code: code ?? 1, output }) })
  })
}

const longFiles = readdirSync(join(ROOT, 'test', 'long')).filter(f => f.endsWith('.test.ts')).map(f => join('test', 'long', f))
const long = longFiles.length > 0 ? run(['--test', '--test-concurrency=1', ...longFiles], true) : Promise.resolve({ code: 0, output: '' })
const rest = await run(['--test', '--test-concurrency=1', 'test/!(unit|long)/**/*.test.ts'], false)
const longResult = await long
if (longFiles.length > 0) {
  process.stdout.write(`\n# long tests (${longFiles.join(', ')}), run beside the others:\n${longResult.output}`)
}
process.exitCode = rest.code !== 0 ? rest.code : longResult.code
