/**
 * Preloaded into a daemon (`NODE_OPTIONS=--import=…/module-log.ts`) by tests that check
 * which modules a node loads: appends the URL of every module Node loads (ESM and CJS,
 * through the synchronous module hooks) to the file named by BURROW_TEST_MODULE_LOG.
 */
import { registerHooks } from 'node:module'
import { appendFileSync } from 'node:fs'

const out = process.env.BURROW_TEST_MODULE_LOG
if (out != null && out !== '') {
  registerHooks({
    load (url, context, next) {
      appendFileSync(out, url + '\n')
      return next(url, context)
    }
  })
}
