/**
 * Issue 11: `burrow nat` with port mapping off says so once, and does not blame the
 * router for an external IP it was never asked for. A real daemon on loopback.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { burrow, startDaemon, stopAll } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'

describe('burrow nat with --port-mapping off', () => {
  let d: Daemon
  before(async () => { d = await startDaemon('nat-off', { args: ['--port-mapping', 'off'] }) })
  after(async () => { await stopAll() })

  it('prints no "off: off" and says the router was not asked', async () => {
    const r = await burrow(d.home, ['nat'])
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /off: off/)
    assert.doesNotMatch(r.stdout, /the router did not say/)
    assert.match(r.stdout, /^port mapping: {2}off \(--port-mapping off\)/m)
    assert.match(r.stdout, /^external IP: {3}unknown \(the router was not asked\)$/m)
    assert.match(r.stdout, /^protocols: {5}not asked \(port mapping is off/m)
  })
})
