/**
 * Drives headless Chromium over the Chrome DevTools Protocol (Node 22's global WebSocket,
 * no npm package) against the live view, inside the lab host's namespace it is started in
 * (the test process cannot reach a namespace's loopback). Prints one JSON line per step;
 * the test reads them. Chromium is killed by its PID on every way out.
 *
 *   node browser.ts '{"url":…,"peer":…,"dialTarget":…,"message":…,"screenshot":…,"userDataDir":…}'
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'

interface Job { url: string, peer: string, dialTarget: string, message: string, screenshot: string, userDataDir: string }
const job = JSON.parse(process.argv[2] ?? '{}') as Job
/** A CDP result or a page value: JSON, read by the caller. */
type Json = Record<string, unknown> & { [k: string]: any } // eslint-disable-line @typescript-eslint/no-explicit-any
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }

const chrome = spawn('/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--window-size=1280,1000',
  `--user-data-dir=${job.userDataDir}`, '--remote-debugging-port=0', 'about:blank'
], { stdio: ['ignore', 'ignore', 'pipe'] })
const killChrome = (): void => { if (chrome.pid != null && chrome.exitCode == null) { try { process.kill(chrome.pid, 'SIGKILL') } catch {} } }
process.on('exit', killChrome)
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => { killChrome(); process.exit(143) })

async function devtoolsUrl (): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => { reject(new Error(`chromium gave no DevTools URL in 30 s: ${seen.slice(-500)}`)) }, 30_000)
    chrome.stderr.on('data', (d: Buffer) => {
      seen += d.toString()
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen)
      if (m?.[1] != null) { clearTimeout(timer); resolve(m[1]) }
    })
    chrome.on('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${String(code)}): ${seen.slice(-500)}`)) })
  })
}

class Cdp {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: Json) => void, reject: (e: Error) => void }>()
  private readonly ws: WebSocket
  constructor (ws: WebSocket) {
    this.ws = ws
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number, result?: Json, error?: { message: string } }
      if (msg.id == null) return
      const p = this.pending.get(msg.id)
      this.pending.delete(msg.id)
      if (msg.error != null) p?.reject(new Error(msg.error.message))
      else p?.resolve(msg.result ?? {})
    })
  }

  static async connect (url: string): Promise<Cdp> {
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => { ws.addEventListener('open', resolve); ws.addEventListener('error', () => { reject(new Error('CDP socket failed')) }) })
    return new Cdp(ws)
  }

  async send (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId != null ? { sessionId } : {}) }))
    return new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
  }

  close (): void { this.ws.close() }
}

async function main (): Promise<void> {
  const cdp = await Cdp.connect(await devtoolsUrl())
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' })
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true })
  const evaluate = async (expression: string): Promise<unknown> => {
    const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)
    if (r.exceptionDetails != null) throw new Error(`page: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`)
    return r.result.value
  }
  const waitFor = async (expression: string, timeoutMs: number, what: string): Promise<unknown> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await evaluate(expression).catch(() => undefined)
      if (v != null && v !== false) return v
      if (Date.now() > deadline) throw new Error(`the page did not show ${what} within ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  await cdp.send('Page.enable', {}, sessionId)
  await cdp.send('Page.navigate', { url: job.url }, sessionId)
  await waitFor(`document.getElementById('live')?.className === 'on' && document.getElementById('peer-id').textContent.length > 20 && document.getElementById('reachability').textContent !== '…'`, 30_000, 'the node')
  // marks this document: still there at the end means no reload; records every path shown for the peer
  await evaluate(`window.__noReload = true; window.__paths = []; (() => {
    const record = () => { const p = [...document.querySelectorAll('#connections tbody tr')].filter(tr => tr.dataset.peer === ${JSON.stringify(job.peer)}).map(tr => tr.dataset.path).sort().join('+');
      if (p !== '' && window.__paths[window.__paths.length - 1] !== p) window.__paths.push(p) }
    new MutationObserver(record).observe(document.getElementById('connections'), { subtree: true, childList: true, attributes: true }); record() })(); true`)
  say({ step: 'loaded', peerId: await evaluate(`document.getElementById('peer-id').textContent`), reachability: await evaluate(`document.getElementById('reachability').textContent`), reason: await evaluate(`document.getElementById('reachability-reason').textContent`) })

  // dial from the page's form: relayed first, then the punch upgrades it
  await evaluate(`document.getElementById('dial-target').value = ${JSON.stringify(job.dialTarget)}; document.getElementById('dial-button').click(); true`)
  const dialled = await waitFor(`(() => { const r = document.getElementById('dial-result'); return r.dataset.state != null ? r.dataset.state + ': ' + r.textContent : false })()`, 70_000, 'a dial result')
  say({ step: 'dialled', result: dialled })
  await waitFor(`[...document.querySelectorAll('#connections tbody tr')].some(tr => tr.dataset.peer === ${JSON.stringify(job.peer)} && tr.dataset.path === 'direct')`, 60_000, 'a direct connection')
  say({ step: 'direct', paths: await evaluate('window.__paths'), noReload: await evaluate('window.__noReload === true'), timeline: await evaluate(`[...document.querySelectorAll('#timeline li')].map(li => li.textContent).reverse()`) })

  // send from the page's form; the result line says acked (the peer's inbox is checked by the test)
  await evaluate(`document.getElementById('send-to').value = ${JSON.stringify(job.peer)}; document.getElementById('send-body').value = ${JSON.stringify(job.message)}; document.getElementById('send-button').click(); true`)
  const sent = await waitFor(`(() => { const r = document.getElementById('send-result'); return r.dataset.state === 'ok' || r.dataset.state === 'error' ? r.dataset.state + ': ' + r.textContent : false })()`, 70_000, 'a send result')
  await waitFor(`document.querySelector('#outbox tbody td.empty') != null`, 10_000, 'an empty outbox').catch(() => {})
  const shot = await cdp.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId)
  writeFileSync(job.screenshot, Buffer.from(shot.data as string, 'base64'))
  say({ step: 'sent', result: sent, screenshot: job.screenshot, noReload: await evaluate('window.__noReload === true') })
  cdp.close()
}

main().then(() => { killChrome(); process.exit(0) }, (err: Error) => { say({ step: 'error', error: err.message }); killChrome(); process.exit(1) })
