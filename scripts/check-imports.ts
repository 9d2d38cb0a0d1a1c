/**
 * `npm run check:imports`: the import graph of src/ has no circles, and src/ imports nothing
 * outside src/ (the lab, the bench, the tests) except packages. Reads every src/**∕*.ts with the
 * TypeScript parser (static imports, re-exports, `import()` with a literal, `import type` too: a
 * type-only circle is still two rooms that cannot be understood apart), finds the strongly
 * connected components (Tarjan) and prints one circle through each, one line per circle.
 * Exit 0 when clean, 1 otherwise.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export interface ImportReport {
  /** files read, relative to the root */
  files: string[]
  /** each circle as the files along it, the first repeated at the end */
  cycles: string[][]
  /** imports that leave the checked folder for something that is not a package: `from -> spec` */
  outside: string[]
}

function walk (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** Module specifiers of one file: import/export declarations and `import('literal')`. */
export function importsOf (file: string, text = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const specs: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0]
      if (arg !== undefined && ts.isStringLiteralLike(arg)) specs.push(arg.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return specs
}

/** The .ts file a relative specifier names (`./x.js` → `./x.ts` or `./x/index.ts`), or undefined. */
function resolveSpec (from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec)
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]
  return candidates.find(c => c.endsWith('.ts') && existsSync(c))
}

/**
 * Checks the folder `dir` (every .ts below it). `selfName` is the package's own name: an import of
 * it (or of `selfName/...`) from inside is an edge to `entry`, the package root.
 */
export function checkImports (dir: string, options: { selfName?: string, entry?: string, root?: string } = {}): ImportReport {
  const top = resolve(dir)
  const root = options.root ?? top
  const entry = options.entry !== undefined ? resolve(options.entry) : join(top, 'index.ts')
  const files = walk(top)
  const edges = new Map<string, string[]>()
  const outside: string[] = []
  const rel = (p: string): string => relative(root, p).split(sep).join('/')
  for (const file of files) {
    const targets: string[] = []
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) {
        const target = resolveSpec(file, spec)
        if (target === undefined || !target.startsWith(top + sep)) {
          outside.push(`${rel(file)} -> ${spec}`)
          continue
        }
        targets.push(target)
      } else if (options.selfName !== undefined && (spec === options.selfName || spec.startsWith(`${options.selfName}/`))) {
        targets.push(entry)
      }
    }
    edges.set(file, [...new Set(targets)])
  }
  return { files: files.map(rel), cycles: findCycles(edges).map(c => c.map(rel)), outside }
}

/** Tarjan's strongly connected components; for each one with a circle, one circle through it. */
export function findCycles (edges: Map<string, string[]>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const strong = (v: string): void => {
    // recursion depth is bounded by the number of files (a few hundred)
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      const selfLoop = component.length === 1 && (edges.get(v) ?? []).includes(v)
      if (component.length > 1 || selfLoop) components.push(component)
    }
  }
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) strong(v)
  return components.map(c => circleIn(c, edges))
}

/** A shortest circle through the component's first file (by name), found breadth first. */
function circleIn (component: string[], edges: Map<string, string[]>): string[] {
  const members = new Set(component)
  const start = [...component].sort()[0]!
  const parent = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const v = queue.shift()!
    for (const w of edges.get(v) ?? []) {
      if (!members.has(w)) continue
      if (w === start) {
        const path = [v]
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!)
        return [...path, start]
      }
      if (!parent.has(w)) {
        parent.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start, start]
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string }
  const report = checkImports(join(repo, 'src'), { selfName: pkg.name, root: repo })
  for (const cycle of report.cycles) console.log(`import circle: ${cycle.join(' -> ')}`)
  for (const line of report.outside) console.log(`import out of src/: ${line}`)
  const bad = report.cycles.length + report.outside.length
  console.log(`${report.files.length} files in src/: ${report.cycles.length} import circle(s), ${report.outside.length} import(s) out of src/`)
  process.exitCode = bad === 0 ? 0 : 1
}
