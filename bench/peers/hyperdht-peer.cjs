'use strict'
/* eslint-disable @typescript-eslint/no-require-imports -- hyperdht is CommonJS */
/**
 * The bench's baseline peer: Holepunch's hyperdht (npm `hyperdht`, a devDependency), driven
 * like burrow in the same lab cell. One JSON line per event on stdout.
 *
 *   node hyperdht-peer.cjs testnet HOST PORT SIZE   a small DHT on a public lab host (bootstrap HOST:PORT)
 *   node hyperdht-peer.cjs server HOST:PORT SEEDHEX  listens under the key pair from SEEDHEX, echoes
 *   node hyperdht-peer.cjs client HOST:PORT KEYHEX TIMEOUTMS   one dial by public key: time to an open stream
 *
 * The client's `ms` runs from `dht.connect(key)` (lookup included) to the first echoed byte
 * over the encrypted stream; `remote` is the UDP address the stream runs to (a hyperdht stream
 * is always direct: it has no relay unless one is configured, and none is here).
 */
const DHT = require('hyperdht')
const createTestnet = require('hyperdht/testnet')

function out (o) { process.stdout.write(JSON.stringify(o) + '\n') }
function hostPort (s) {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

async function main () {
  const [mode, ...args] = process.argv.slice(2)
  if (mode === 'testnet') {
    const [host, port, size] = args
    const net = await createTestnet(Number(size ?? 3), { host, port: Number(port) })
    out({ ready: true, bootstrap: net.bootstrap })
    const stop = () => { net.destroy().then(() => process.exit(0), () => process.exit(1)) }
    process.on('SIGTERM', stop); process.on('SIGINT', stop)
    return
  }
  if (mode === 'server') {
    const [bootstrap, seedHex] = args
    const dht = new DHT({ bootstrap: [hostPort(bootstrap)] })
    const keyPair = DHT.keyPair(Buffer.from(seedHex, 'hex'))
    const server = dht.createServer(socket => {
      socket.on('error', () => {})
      socket.on('data', d => socket.write(d))
    })
    await server.listen(keyPair)
    out({ ready: true, publicKey: keyPair.publicKey.toString('hex'), address: server.address() })
    const stop = () => { server.close().then(() => dht.destroy()).then(() => process.exit(0), () => process.exit(1)) }
    process.on('SIGTERM', stop); process.on('SIGINT', stop)
    return
  }
  if (mode === 'client') {
    const [bootstrap, keyHex, timeoutMs] = args
    const dht = new DHT({ bootstrap: [hostPort(bootstrap)] })
    await dht.fullyBootstrapped()
    const timer = setTimeout(() => { out({ ok: false, reason: `no open stream within ${timeoutMs} ms` }); process.exit(0) }, Number(timeoutMs ?? 40000))
    const t0 = performance.now()
    const socket = dht.connect(Buffer.from(keyHex, 'hex'))
    socket.on('error', err => { clearTimeout(timer); out({ ok: false, reason: String(err && err.message).split('\n')[0] }); process.exit(0) })
    socket.once('open', () => {
      const openMs = performance.now() - t0
      socket.write(Buffer.from('ping'))
      socket.once('data', () => {
        clearTimeout(timer)
        const raw = socket.rawStream
        out({ ok: true, ms: performance.now() - t0, openMs, remote: raw ? `${raw.remoteHost}:${raw.remotePort}` : null })
        socket.destroy()
        dht.destroy().then(() => process.exit(0), () => process.exit(0))
      })
    })
    return
  }
  out({ ok: false, reason: `unknown mode ${mode}` })
  process.exit(2)
}
main().catch(err => { out({ ok: false, reason: String(err && err.message) }); process.exit(1) })
