// The shape of src/: no import circles (type-only imports count: two rooms in a circle cannot be
// read or changed apart), and the product imports no tooling (the lab, the bench, the tests).
// The same check runs as `npm run check:imports` (scripts/check-imports.ts).
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkImports } from '../../../scripts/check-imports.ts'
import { ROOT } from '../../helpers/burrow.ts'

describe('the import graph of src/', () => {
  const report = checkImports(join(ROOT, 'src'), { selfName: 'burrow', root: ROOT })

  it('reads the sources', () => {
    assert.ok(report.files.includes('src/index.ts'))
    assert.ok(report.files.length > 50, `${report.files.length} files`)
  })

  it('has no import circles', () => {
    assert.deepEqual(report.cycles.map(c => c.join(' -> ')), [])
  })

  it('imports nothing from outside src/ but packages: not the lab, the bench or the tests', () => {
    assert.deepEqual(report.outside, [])
    assert.ok(!report.files.some(f => f.startsWith('src/lab/')), 'the lab lives in lab/, not src/lab/')
  })
})

describe('the import check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-imports-'))
  after(() => { rmSync(dir, { recursive: true, force: true }) })
  const write = (path: string, text: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  write('src/index.ts', "export { a } from './a/index.js'\nexport { leaf } from './leaf.js'\n")
  write('src/a/index.ts', "export { a } from './a.js'\n")
  write('src/a/a.ts', "import type { B } from '../b/index.js'\nexport const a = (b: B): B => b\n")
  write('src/b/index.ts', "export type B = number\nexport const lazy = async () => import('../c.js')\n")
  write('src/c.ts', "import { a } from 'pkg'\nexport { a }\n")
  write('src/leaf.ts', "import { x } from '../lab/x.js'\nexport const leaf = x\n")
  write('src/self.ts', "import { leaf } from 'pkg'\nexport const self = leaf\n")
  write('lab/x.ts', 'export const x = 1\n')

  it('finds a circle through a type-only import, a dynamic import and the package root named by the package name', () => {
    const r = checkImports(join(dir, 'src'), { selfName: 'pkg', root: dir })
    assert.equal(r.cycles.length, 1, JSON.stringify(r.cycles))
    const circle = r.cycles[0]!
    assert.equal(circle[0], circle[circle.length - 1], 'a circle ends where it starts')
    assert.deepEqual(new Set(circle), new Set(['src/a/a.ts', 'src/a/index.ts', 'src/b/index.ts', 'src/c.ts', 'src/index.ts']))
  })

  it('names an import that leaves the folder', () => {
    const r = checkImports(join(dir, 'src'), { selfName: 'pkg', root: dir })
    assert.deepEqual(r.outside, ['src/leaf.ts -> ../lab/x.js'])
  })
})
