// What the npm package ships: the product only. The NAT lab (lab/), the benchmarks (bench/) and
// the tests stay in the repository, and the build ships no source maps (they would point at
// sources the package does not carry). From the packed tarball, `burrow lab` says in one coded
// line that the lab comes only with the repository. Runs `npm pack` with --ignore-scripts, so it
// packs the build `npm test` made first and contacts no registry.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { ROOT } from '../helpers/burrow.ts'

interface Run { code: number, stdout: string, stderr: string }

async function run (cmd: string, args: string[], cwd = ROOT): Promise<Run> {
  return new Promise(resolve => {
    execFile(cmd, args, { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1)
      resolve({ code, stdout, stderr })
    })
  })
}

function which (name: string): string | undefined {
  for (const dir of [dirname(process.execPath), ...(process.env.PATH ?? '').split(delimiter)]) {
    const p = join(dir, name)
    if (dir !== '' && existsSync(p)) return p
  }
  return undefined
}

const npm = which('npm')
const built = existsSync(join(ROOT, 'dist', 'cli', 'index.js')) ? undefined : 'not built: run npm run build first'

describe('the npm package ships the product, not the tooling', { skip: npm === undefined ? 'npm is not on PATH' : built }, () => {
  let files: string[] = []

  before(async () => {
    const r = await run(npm!, ['pack', '--dry-run', '--json', '--ignore-scripts'])
    assert.equal(r.code, 0, `npm pack --dry-run failed: ${r.stderr}`)
    files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(f => f.path)
  })

  it('lists the CLI and the library entry points', () => {
    for (const f of ['bin/burrow.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js', 'package.json']) {
      assert.ok(files.includes(f), `${f} is in the package`)
    }
  })

  it('lists no lab, bench or test files', () => {
    const tooling = files.filter(f => /(^|\/)(lab|bench|test)(\/|$)/.test(f) || /^src\//.test(f))
    assert.deepEqual(tooling, [], 'the package carries tooling')
  })

  it('lists no source maps', () => {
    assert.deepEqual(files.filter(f => f.endsWith('.map')), [])
  })
})

describe('burrow lab from the packed package', { skip: npm === undefined ? 'npm is not on PATH' : built }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'burrow-pkg-contents-'))
  after(() => { rmSync(tmp, { recursive: true, force: true }) })

  it('says in one coded line that the lab ships only with the repository, and exits non-zero', async () => {
    const pack = await run(npm!, ['pack', '--ignore-scripts', '--pack-destination', tmp])
    assert.equal(pack.code, 0, pack.stderr)
    const tarball = readdirSync(tmp).find(f => f.endsWith('.tgz'))
    assert.ok(tarball !== undefined, 'npm pack made no tarball')
    const untar = await run('tar', ['-xzf', join(tmp, tarball), '-C', tmp])
    assert.equal(untar.code, 0, untar.stderr)
    // the packed files with the repository's dependencies beside them, as an install would have
    symlinkSync(join(ROOT, 'node_modules'), join(tmp, 'package', 'node_modules'))
    const r = await run(process.execPath, [join(tmp, 'package', 'bin', 'burrow.js'), 'lab', '--a', 'cone', '--b', 'cone'], tmp)
    assert.notEqual(r.code, 0)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `one line: ${r.stderr}`)
    assert.match(lines[0]!, /^burrow: ERR_LAB_UNAVAILABLE: the NAT lab ships only with the repository .*clone/)
  })
})
