/**
 * Lets tests import the TypeScript sources (`test/unit/**` imports `../../../src/….ts`).
 * src/ writes its relative imports with `.js` specifiers (what tsc emits for NodeNext);
 * this resolve hook maps such a `./x.js` that does not exist to the `./x.ts` beside it,
 * only for imports made from inside src/. Node strips the types itself; the generated
 * protobuf code (the pb folders in src/) uses enums and namespaces, so the unit tests also
 * run with `--experimental-transform-types` (see the `test:unit` script in package.json).
 *
 * Used as `node --import ./test/register.ts --test …`.
 */
import { registerHooks } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const SRC = new URL('../src/', import.meta.url).href

registerHooks({
  resolve (specifier, context, nextResolve) {
    const parent = context.parentURL
    if (parent?.startsWith(SRC) === true && specifier.startsWith('.') && specifier.endsWith('.js')) {
      const js = new URL(specifier, parent)
      if (!existsSync(fileURLToPath(js))) {
        const ts = new URL(specifier.slice(0, -3) + '.ts', parent)
        if (existsSync(fileURLToPath(ts))) return nextResolve(ts.href, context)
      }
    }
    return nextResolve(specifier, context)
  }
})
