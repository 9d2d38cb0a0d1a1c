/**
 * Plain-socket tools for checking NAT behaviour without libp2p, run with the lab's Node
 * (`node --input-type=module -e PROBE_SCRIPT -- MODE ...`) inside a host namespace:
 *
 * - `observe PORT`: UDP and TCP on PORT; answers every datagram / connection with the
 *   source `ip:port` it saw (an address observer, like a STUN server's reflexive address).
 * - `probe udp|tcp LOCALPORT LISTENMS TARGET...`: from one local port, asks each observer
 *   what it saw; prints `{"seen":[...]}`; then keeps the port open LISTENMS ms and prints
 *   `{"unsolicited":[...]}` with whatever arrived from elsewhere.
 * - `listen udp|tcp PORT TIMEOUTMS`: prints `{"from":"ip:port","data":"..."}` for the first
 *   message, answering "ok", or `{"timeout":true}`.
 * - `send udp|tcp IP:PORT TEXT TIMEOUTMS [LOCALPORT]`: prints `{"ok":true,"reply":"..."}` or
 *   `{"ok":false,"error":"..."}`.
 * - `rtt IP:PORT COUNT`: UDP round trips to an observer, one at a time; prints
 *   `{"rttMs":[...],"avgMs":n,"lost":n}` (for hosts without ping).
 */
export const PROBE_SCRIPT = String.raw`
import dgram from 'node:dgram'
import net from 'node:net'
const [mode, ...a] = process.argv.slice(1)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const hp = (s) => { const i = s.lastIndexOf(':'); return [s.slice(0, i), Number(s.slice(i + 1))] }
const addr = (ip, port) => ip.replace(/^::ffff:/, '') + ':' + port
if (mode === 'observe') {
  const port = Number(a[0])
  const u = dgram.createSocket('udp4')
  u.on('message', (m, r) => u.send(addr(r.address, r.port), r.port, r.address))
  u.bind(port, '0.0.0.0')
  net.createServer((c) => { c.on('error', () => {}); c.end(addr(c.remoteAddress, c.remotePort) + '\n') }).listen(port, '0.0.0.0', () => out({ observing: port }))
} else if (mode === 'probe') {
  const [proto, lp, listenMs, ...targets] = a
  const localPort = Number(lp)
  const seen = []
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4')
    const pending = new Map()
    const unsolicited = []
    u.on('message', (m, r) => {
      const key = addr(r.address, r.port)
      const p = pending.get(key)
      if (p) { pending.delete(key); p(m.toString()) } else unsolicited.push({ from: key, data: m.toString() })
    })
    await new Promise((res) => u.bind(localPort, '0.0.0.0', res))
    for (const t of targets) {
      const [ip, port] = hp(t)
      const reply = await new Promise((res) => {
        pending.set(t, res)
        let n = 0
        const tick = () => { if (!pending.has(t)) return; if (n++ === 5) { pending.delete(t); res(null); return } u.send('?', port, ip); setTimeout(tick, 400) }
        tick()
      })
      seen.push(reply)
    }
    out({ seen })
    await new Promise((res) => setTimeout(res, Number(listenMs)))
    out({ unsolicited })
    u.close()
  } else {
    for (const t of targets) {
      const [host, port] = hp(t)
      const reply = await new Promise((res) => {
        const c = net.connect({ host, port, localPort, localAddress: '0.0.0.0' })
        let d = ''
        c.setTimeout(3000, () => { c.destroy(); res(null) })
        c.on('data', (x) => { d += x })
        c.on('end', () => { res(d.trim()) })
        c.on('error', () => res(null))
      })
      seen.push(reply)
      await new Promise((res) => setTimeout(res, 100))
    }
    out({ seen })
    const unsolicited = []
    const s = net.createServer((c) => { unsolicited.push({ from: addr(c.remoteAddress, c.remotePort) }); c.destroy() })
    s.on('error', () => {})
    s.listen(localPort, '0.0.0.0')
    await new Promise((res) => setTimeout(res, Number(listenMs)))
    out({ unsolicited })
    s.close()
  }
  process.exit(0)
} else if (mode === 'listen') {
  const [proto, p, ms] = a
  setTimeout(() => { out({ timeout: true }); process.exit(0) }, Number(ms))
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4')
    u.on('message', (m, r) => { out({ from: addr(r.address, r.port), data: m.toString() }); u.send('ok', r.port, r.address, () => process.exit(0)) })
    u.bind(Number(p), '0.0.0.0', () => out({ listening: Number(p) }))
  } else {
    net.createServer((c) => {
      c.once('data', (d) => { out({ from: addr(c.remoteAddress, c.remotePort), data: d.toString() }); c.end('ok', () => process.exit(0)) })
    }).listen(Number(p), '0.0.0.0', () => out({ listening: Number(p) }))
  }
} else if (mode === 'send') {
  const [proto, target, text, ms, lp] = a
  const [host, port] = hp(target)
  setTimeout(() => { out({ ok: false, error: 'timeout' }); process.exit(0) }, Number(ms))
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4')
    u.on('message', (m) => { out({ ok: true, reply: m.toString() }); process.exit(0) })
    u.bind(lp ? Number(lp) : 0, '0.0.0.0', () => { u.send(text, port, host); setInterval(() => u.send(text, port, host), 300) })
  } else {
    const c = net.connect({ host, port, localPort: lp ? Number(lp) : undefined }, () => c.write(text))
    let d = ''
    c.on('data', (x) => { d += x })
    c.on('end', () => { out({ ok: true, reply: d }); process.exit(0) })
    c.on('error', (e) => { out({ ok: false, error: e.code ?? e.message }); process.exit(0) })
  }
} else if (mode === 'rtt') {
  const [target, count] = a
  const [host, port] = hp(target)
  const u = dgram.createSocket('udp4')
  await new Promise((res) => u.bind(0, '0.0.0.0', res))
  const rttMs = []
  let lost = 0
  for (let i = 0; i < Number(count); i++) {
    const t0 = process.hrtime.bigint()
    const ok = await new Promise((res) => {
      const timer = setTimeout(() => { u.removeAllListeners('message'); res(false) }, 2000)
      u.once('message', () => { clearTimeout(timer); res(true) })
      u.send('rtt' + i, port, host)
    })
    if (ok) rttMs.push(Number(process.hrtime.bigint() - t0) / 1e6); else lost++
    await new Promise((res) => setTimeout(res, 50))
  }
  const avgMs = rttMs.length ? rttMs.reduce((x, y) => x + y, 0) / rttMs.length : null
  out({ rttMs, avgMs, lost })
  process.exit(0)
} else {
  process.stderr.write('unknown mode ' + mode + '\n')
  process.exit(2)
}
`
