/**
 * issue 15, acceptance 5: a node with WebRTC off never loads @libp2p/webrtc (nor its
 * native node-datachannel stack): the WebRTC path is imported only when it is on. Checked
 * on the real daemon with a module hook that records every module URL it loads, and in
 * /proc/PID/maps (the native .node file). The same daemon with WebRTC on is the control
 * that shows the check sees the module when it is loaded.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { burrowJson, startDaemon, stopDaemon, stopAll, ROOT } from '../helpers/burrow.ts'

const HOOK = join(ROOT, 'test', 'helpers', 'module-log.ts')
const WEBRTC_MODULE = /\/node_modules\/@libp2p\/webrtc\//
const NATIVE_WEBRTC = /node[-_]datachannel/

interface Loaded { modules: string[], mapped: string }

/** Starts a daemon with `args`, waits until it answers status, and returns what it loaded. */
async function loadedBy (label: string, args: string[]): Promise<Loaded> {
  const log = join(tmpdir(), `burrow-test-modules-${label}-${process.pid}.txt`)
  await rm(log, { force: true })
  const d = await startDaemon(label, {
    args: ['--port-mapping', 'off', ...args],
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim(), BURROW_TEST_MODULE_LOG: log }
  })
  try {
    // started, listening and answering: everything the start path imports is in
    await burrowJson(d.home, ['status'])
    const pid = d.child.pid
    assert.ok(pid !== undefined)
    const mapped = await readFile(`/proc/${pid}/maps`, 'utf8')
    const modules = (await readFile(log, 'utf8')).split('\n').filter(l => l !== '')
    return { modules, mapped }
  } finally {
    await stopDaemon(d)
    await rm(log, { force: true })
  }
}

describe('WebRTC is loaded only when its path is on', { timeout: 120_000 }, () => {
  after(stopAll)

  it('a daemon with WebRTC off (--punch tcp) never loads @libp2p/webrtc or node-datachannel', async () => {
    const { modules, mapped } = await loadedBy('webrtc-off', ['--punch', 'tcp'])
    // the hook saw the node being built: the check below is not vacuous
    assert.ok(modules.some(u => u.endsWith('/dist/node/libp2p.js')), `the module log misses the node itself (${modules.length} modules)`)
    assert.ok(modules.some(u => u.includes('/node_modules/@libp2p/tcp/')), 'the module log misses @libp2p/tcp')
    const webrtc = modules.filter(u => WEBRTC_MODULE.test(u) || NATIVE_WEBRTC.test(u))
    assert.deepEqual(webrtc, [], `WebRTC modules loaded with WebRTC off:\n${webrtc.slice(0, 5).join('\n')}`)
    assert.doesNotMatch(mapped, NATIVE_WEBRTC, 'the native WebRTC library is mapped into the daemon')
  })

  it('control: with WebRTC on (--punch webrtc) the same checks see it loaded', async () => {
    const { modules, mapped } = await loadedBy('webrtc-on', ['--punch', 'webrtc'])
    assert.ok(modules.some(u => WEBRTC_MODULE.test(u)), 'the module log shows no @libp2p/webrtc with WebRTC on')
    assert.match(mapped, NATIVE_WEBRTC)
  })
})
