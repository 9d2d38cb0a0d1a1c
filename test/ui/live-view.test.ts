/**
 * Issue 11, acceptance 3: the live view (`burrow daemon --ui`) in headless Chromium. In the
 * lab's cone × cone scenario, the page shows B's PeerId and reachability, dials A from its
 * form, shows the connection relayed and then direct without a reload, and sends a message
 * from its form that A receives. Chromium runs in B's namespace (browser.ts speaks CDP there);
 * the screenshot goes to the lab's run dir; assertions are on the DOM.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, statSync, copyFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason, jsonLines } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, debugEnv } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'

const CHROMIUM = '/usr/bin/chromium'
const skip = skipReason() ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} missing: apt-get install chromium (as .ci/run does) to run the live view test`)
const BROWSER = join(dirname(fileURLToPath(import.meta.url)), 'browser.ts')

describe('live view: headless Chromium, cone × cone', { skip }, () => {
  let lab: Lab
  let relay: LabNode

  before(async () => {
    lab = await Lab.create({ name: 'ui-cone' })
    const relayHost = await lab.addPublicHost('relay')
    relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
  })
  after(async () => { await lab?.teardown() })

  it('shows the node, goes relayed → direct without a reload, and sends from its form', async () => {
    const started = Date.now()
    const homeA = await lab.addHome('a', { nat: 'cone' })
    const homeB = await lab.addHome('b', { nat: 'cone' })
    const a = await startPeer(lab, homeA.hosts[0]!, [relay.multiaddr], 'a')
    const b = await startPeer(lab, homeB.hosts[0]!, [relay.multiaddr], 'b', ['--ui', '127.0.0.1:0'])
    const browserDir = mkdtempSync(join(lab.runDir, 'chromium-'))
    const screenshot = join(browserDir, 'live-view.png')
    try {
      const url = (await b.process.waitForOutput(/^live view: (http:\/\/127\.0\.0\.1:\d+\/)$/m, 30_000))[1]!
      await waitReachableByPeerId(a)
      const message = `hello from the live view ${Date.now()}`
      const job = { url, peer: a.peerId, dialTarget: `${relay.multiaddr}/p2p-circuit/p2p/${a.peerId}`, message, screenshot, userDataDir: join(browserDir, 'profile') }
      const browser = await homeB.hosts[0]!.spawn(process.execPath, [BROWSER, JSON.stringify(job)], { logName: 'browser', env: { ...process.env, HOME: browserDir } })
      const step = async (name: string, timeoutMs: number): Promise<Record<string, unknown>> => {
        await browser.waitForOutput(new RegExp(`"step":"(${name}|error)"`), timeoutMs)
        const lines = jsonLines(browser.recentOutput)
        const failed = lines.find(l => l.step === 'error')
        assert.equal(failed, undefined, `browser: ${String(failed?.error)} (log ${browser.logFile})`)
        return lines.find(l => l.step === name)!
      }
      try {
        const loaded = await step('loaded', 60_000)
        assert.equal(loaded.peerId, b.peerId, 'the page shows this node\'s PeerId')
        assert.match(String(loaded.reachability), /^private \(/, 'the page shows B\'s reachability (behind a cone NAT: private)')
        assert.notEqual(loaded.reason, '', 'and why')

        const dialled = await step('dialled', 90_000)
        assert.match(String(dialled.result), /^ok: connected /, 'the dial form connected')
        const direct = await step('direct', 90_000)
        const paths = direct.paths as string[]
        const firstRelayed = paths.findIndex(p => p.split('+').includes('relayed'))
        const lastDirect = paths.length - 1
        assert.ok(firstRelayed >= 0, `the connection was shown relayed first: ${JSON.stringify(paths)}`)
        assert.ok(paths[lastDirect]!.split('+').includes('direct') && lastDirect > firstRelayed, `then direct: ${JSON.stringify(paths)}`)
        assert.equal(direct.noReload, true, 'in the same document: no reload')
        assert.ok((direct.timeline as string[]).some(t => / upgraded to direct \(/.test(t)), `the punch timeline tells the upgrade: ${JSON.stringify(direct.timeline)}`)

        const sent = await step('sent', 90_000)
        assert.match(String(sent.result), /^ok: acked /, 'the send form got the ack')
        assert.equal(sent.noReload, true)
        assert.ok(statSync(screenshot).size > 1000, 'a screenshot was saved')
        const inbox = (await a.cli(['inbox', '--json'])).stdout.trim().split('\n').map(l => JSON.parse(l) as { text: string, from: string })
        assert.equal(inbox.filter(m => m.text === message && m.from === b.peerId).length, 1, 'A received the message sent from the page')
        if (process.env.BURROW_UI_SCREENSHOT != null) copyFileSync(screenshot, process.env.BURROW_UI_SCREENSHOT)
        console.log(`# live view: loaded, relayed → direct, sent in ${Date.now() - started} ms (lab setup included); screenshot ${screenshot}`)
      } finally {
        await browser.stop(2_000)
      }
    } finally {
      await b.stop()
      await a.stop()
    }
  })
})
