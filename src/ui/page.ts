/**
 * The live view's one page: HTML, CSS and JS inline, nothing fetched from elsewhere (the
 * page must work with no network beyond the node). Everything a peer can influence is set
 * with textContent, never as HTML.
 */
import { UI_TOKEN_HEADER } from './constants.js'

/** The page, with this run's token for the POSTs embedded. */
export function renderPage (token: string): string {
  return PAGE.replace('__TOKEN__', token).replace('__TOKEN_HEADER__', UI_TOKEN_HEADER)
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="burrow-ui-token" content="__TOKEN__">
<title>burrow: live view</title>
<style>
  :root { color-scheme: light dark; --dim: #777; --ok: #1a7f37; --warn: #b35900; --bad: #c62828; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 1.5rem; max-width: 1200px; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; } h2 { font-size: 1.05rem; margin: 1.2rem 0 .3rem; }
  code, td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 2px 8px 2px 0; vertical-align: top; }
  th { color: var(--dim); font-weight: 500; border-bottom: 1px solid #8884; }
  .direct { color: var(--ok); font-weight: 600; } .relayed { color: var(--warn); font-weight: 600; }
  .public { color: var(--ok); } .private { color: var(--warn); } .failed { color: var(--bad); }
  .empty { color: var(--dim); font-style: italic; }
  #live { font-size: 12px; color: var(--dim); } #live.on::before { content: '● '; color: var(--ok); }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; } @media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
  form { display: flex; gap: .5rem; flex-wrap: wrap; margin: .3rem 0; } input { font: inherit; padding: 2px 4px; } input.wide { flex: 1; min-width: 20rem; }
  #timeline li { font-size: 12px; } .result { font-size: 12px; }
</style>
</head>
<body>
<h1>burrow <span id="live">connecting…</span></h1>
<table>
  <tr><th style="width:10rem">PeerId</th><td class="mono" id="peer-id">…</td></tr>
  <tr><th>reachability</th><td><span id="reachability">…</span> <span id="reachability-reason" class="empty"></span></td></tr>
  <tr><th>NAT behaviour</th><td id="nat">…</td></tr>
  <tr><th>port mapping</th><td id="portmap"></td></tr>
  <tr><th>addresses</th><td class="mono" id="addresses"></td></tr>
</table>
<h2>Connected peers</h2>
<table id="connections"><thead><tr><th>peer</th><th>path</th><th>RTT</th><th>address</th><th>since</th></tr></thead><tbody></tbody></table>
<form id="dial-form"><input id="dial-target" class="wide mono" placeholder="PeerId or multiaddr to dial" required><button id="dial-button">Dial</button><span id="dial-result" class="result"></span></form>
<div class="grid">
<div><h2>Port mappings</h2><table id="mappings"><thead><tr><th>protocol</th><th>external</th><th>internal</th><th>expires</th></tr></thead><tbody></tbody></table></div>
<div><h2>Relay reservations</h2><table id="reservations"><thead><tr><th>relay</th><th>reserved</th><th>expires</th></tr></thead><tbody></tbody></table></div>
</div>
<h2>Hole punching</h2>
<ol id="timeline" reversed></ol>
<div class="grid">
<div><h2>Inbox <span id="inbox-count" class="empty"></span></h2><table id="inbox"><thead><tr><th>from</th><th>via</th><th>received</th><th>text</th></tr></thead><tbody></tbody></table></div>
<div><h2>Outbox</h2><table id="outbox"><thead><tr><th>to</th><th>state</th><th>attempts</th><th>last error</th></tr></thead><tbody></tbody></table>
<form id="send-form"><input id="send-to" class="wide mono" placeholder="PeerId" required><input id="send-body" class="wide" placeholder="message" required><button id="send-button">Send</button></form>
<div id="send-result" class="result"></div></div>
</div>
<script>
'use strict'
const TOKEN = document.querySelector('meta[name=burrow-ui-token]').content
const $ = (id) => document.getElementById(id)
const short = (p) => typeof p === 'string' && p.length > 20 ? p.slice(0, 8) + '…' + p.slice(-6) : String(p ?? '')
const when = (iso) => { if (!iso) return 'never'; const s = Math.round((Date.parse(iso) - Date.now()) / 1000); return s === 0 ? 'now' : s > 0 ? 'in ' + s + ' s' : -s + ' s ago' }
function cell (text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td }
function rows (tableId, items, make, empty) {
  const body = $(tableId).tBodies[0]; body.replaceChildren()
  if (items.length === 0) { const tr = body.insertRow(); const td = cell(empty, 'empty'); td.colSpan = 9; tr.append(td); return }
  for (const it of items) { const tr = body.insertRow(); make(tr, it) }
}
function render (snap) {
  const s = snap.status
  $('peer-id').textContent = s.peerId
  const r = $('reachability'); r.textContent = s.reachability + ' (' + s.reachabilitySource + ')'; r.className = s.reachability
  $('reachability-reason').textContent = s.reachabilityReason
  $('nat').textContent = 'TCP: ' + s.nat.mapping + ' mapping' + (s.nat.behindNat == null ? '' : s.nat.behindNat ? ', behind NAT' : ', not behind NAT') +
    (s.nat.publicAddresses.length ? ' (public ' + s.nat.publicAddresses.join(', ') + ')' : '') +
    '. UDP: punch path ' + (s.udpPunch.enabled ? 'on' : 'off') + ', behaviour not measured while running (burrow doctor asks STUN servers).'
  const pm = snap.portMapping
  $('portmap').textContent = pm == null ? '' : pm.mode + ', ' + pm.status + (pm.active ? ' via ' + pm.active : '') + (pm.gateway ? ', gateway ' + pm.gateway : '') +
    (pm.protocols.length ? '; answered: ' + pm.protocols.map(p => p.protocol + ' ' + p.answered).join(', ') : '') + (pm.doubleNat ? '; double NAT' : '') + (pm.lastError ? '; last error: ' + pm.lastError : '')
  $('addresses').textContent = [...s.addresses.announced, ...s.addresses.relayed].join('\\n') || '(none yet)'
  $('addresses').style.whiteSpace = 'pre-line'
  rows('connections', s.connections, connectionRow, 'no peers connected')
  rows('mappings', s.portMappings, (tr, m) => { tr.append(cell(m.protocol + (m.confirmed ? '' : ' (unconfirmed)')), cell(m.external, 'mono'), cell(m.internal, 'mono'), cell(when(m.expiresAt))) }, 'no port mappings')
  rows('reservations', s.reservations, (tr, v) => { tr.append(cell(short(v.relay), 'mono'), cell(when(v.reservedAt)), cell(when(v.expiresAt))) }, 'no relay reservations')
  rows('inbox', snap.inbox, (tr, m) => { tr.dataset.id = m.id; tr.append(cell(short(m.from), 'mono'), cell(m.via, m.via), cell(when(m.receivedAt)), cell(m.text)) }, 'inbox empty')
  $('inbox-count').textContent = '(' + snap.inboxTotal + ', ' + s.messages.inbox.bytes + ' bytes)'
  rows('outbox', snap.outbox, (tr, e) => { tr.append(cell(short(e.to), 'mono'), cell(e.state, e.state), cell(String(e.attempts)), cell(e.lastError ?? '')) }, 'outbox empty')
}
/** libp2p measures a connection's RTT with its keepalive pings: none yet on a fresh one. */
function rtt (ms) { const td = cell(ms == null ? '…' : ms + ' ms'); if (ms == null) td.title = 'not measured yet: the first keepalive ping measures it'; return td }
function connectionRow (tr, c) {
  tr.dataset.peer = c.peerId; tr.dataset.path = c.direct ? 'direct' : 'relayed'; tr.dataset.address = c.remoteAddress
  tr.append(cell(c.peerId, 'mono'), cell(c.direct ? 'direct' : 'relayed', c.direct ? 'direct' : 'relayed'), rtt(c.rttMs), cell(c.remoteAddress, 'mono'), cell(when(c.openedAt)))
  if (!c.direct && c.whyRelayed) tr.title = c.whyRelayed
}
/** A connection event shows at once (a punch may finish before a status fetch would); the fetch that follows fills RTT. */
function applyConnection (e) {
  const body = $('connections').tBodies[0]
  const same = [...body.rows].filter(tr => tr.dataset.peer === e.data.peer && tr.dataset.address === e.data.remoteAddress)
  if (e.type === 'connection:closed') { for (const tr of same) tr.remove(); return }
  if (e.type !== 'connection:opened' || same.length > 0) return
  for (const tr of [...body.rows]) if (tr.dataset.peer == null) tr.remove()
  connectionRow(body.insertRow(), { peerId: e.data.peer, direct: e.data.path === 'direct', remoteAddress: e.data.remoteAddress, rttMs: null, openedAt: e.time })
}
let fetching = false, again = false
async function refresh () {
  if (fetching) { again = true; return }
  fetching = true
  try { const res = await fetch('/api/status', { cache: 'no-store' }); if (res.ok) render(await res.json()) } catch (e) { $('live').textContent = 'status failed: ' + e.message }
  fetching = false
  if (again) { again = false; void refresh() }
}
const PUNCH = { 'connection:opened': 1, 'holepunch:started': 1, 'holepunch:attempt': 1, 'holepunch:direct': 1, 'holepunch:failed': 1 }
function timeline (e) {
  if (!PUNCH[e.type]) return
  const d = e.data, li = document.createElement('li'); li.dataset.type = e.type
  let text
  if (e.type === 'connection:opened') text = 'connected ' + d.direction + ' via ' + d.path + ': ' + short(d.peer)
  else if (e.type === 'holepunch:started') text = d.transport + ' punch #' + d.attempt + ' started (' + d.role + ') with ' + short(d.peer)
  else if (e.type === 'holepunch:attempt') text = d.transport + ' punch #' + d.attempt + ' ' + d.outcome + ' after ' + d.durationMs + ' ms: ' + d.detail
  else if (e.type === 'holepunch:direct') { text = 'upgraded to direct (' + d.transport + ') with ' + short(d.peer) + ' after ' + d.sinceRelayedMs + ' ms relayed'; li.className = 'direct' }
  else { text = d.transport + ' punching gave up with ' + short(d.peer) + ': ' + d.reason; li.className = 'failed' }
  li.textContent = e.time.slice(11, 23) + '  ' + text
  $('timeline').prepend(li)
  while ($('timeline').children.length > 200) $('timeline').lastChild.remove()
}
let timer
const events = new EventSource('/api/events')
events.onopen = () => { $('live').textContent = 'live'; $('live').className = 'on'; void refresh() }
events.onerror = () => { $('live').textContent = 'reconnecting…'; $('live').className = '' }
events.addEventListener('burrow', (m) => {
  try { const e = JSON.parse(m.data); applyConnection(e); timeline(e) } catch {}
  clearTimeout(timer); timer = setTimeout(refresh, 150)
})
setInterval(refresh, 5000)
async function post (path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', '__TOKEN_HEADER__': TOKEN }, body: JSON.stringify(body) })
  const json = await res.json()
  if (!res.ok) throw new Error(json.error ?? res.status)
  return json
}
$('dial-form').addEventListener('submit', async (ev) => {
  ev.preventDefault(); const out = $('dial-result'); out.textContent = 'dialling…'
  try { const r = await post('/api/dial', { target: $('dial-target').value }); out.textContent = 'connected ' + (r.direct ? 'direct' : 'relayed') + ' in ' + r.durationMs + ' ms'; out.dataset.state = 'ok' } catch (e) { out.textContent = e.message; out.dataset.state = 'error' }
  void refresh()
})
$('send-form').addEventListener('submit', async (ev) => {
  ev.preventDefault(); const out = $('send-result'); out.textContent = 'sending…'; out.dataset.state = 'sending'
  try { const r = await post('/api/send', { to: $('send-to').value, body: $('send-body').value }); out.textContent = 'acked ' + r.id + ' via ' + r.via + ' in ' + r.rttMs + ' ms'; out.dataset.state = 'ok'; $('send-body').value = '' } catch (e) { out.textContent = e.message; out.dataset.state = 'error' }
  void refresh()
})
void refresh()
</script>
</body>
</html>
`
