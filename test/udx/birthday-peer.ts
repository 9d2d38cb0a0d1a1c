// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- udx-native ships no types; ours live in src/udx
/// <reference path="../../src/udx/udx-native.d.ts" />
// One side of a birthday-probing trial, run by test/udx/birthday.test.ts inside a lab host's
// namespace (plain Node, no libp2p). Prints one JSON object per line; stays up until SIGTERM.
//
//   node birthday-peer.ts '{"role":"probe","stun":"ip:port","remoteHost":"ip","nonce":"hex","caps":{...},"initiator":true}'
//     learns its public address by STUN on its one UDX socket, prints {"public"}, waits for
//     SIGUSR2, then probes random ports of remoteHost (probeRandomPorts)
//   node birthday-peer.ts '{"role":"open","remote":"ip:port","nonce":"hex","caps":{...},"initiator":false}'
//     opens caps.sockets sockets toward remote (openBirthdaySockets), prints {"armed"}
// Then both print {"hit"} or {"error"}; on a hit, a UDX stream over the socket pair: the
// initiator sends bytes, the other side echoes them back; both print {"echo"} and {"done"}.
import { randomBytes } from 'node:crypto'
import UDX from 'udx-native'
import { DatagramDemux, decodeProbe, openBirthdaySockets, probeRandomPorts } from '../../dist/udx/index.js'
import { encodeBindingRequest, mappedAddressOf, parseHeader } from '../../dist/stun/index.js'
import type { BirthdayResult, ProbeCaps } from '../../dist/udx/index.js'

interface Args {
  role: 'probe' | 'open'
  stun?: string
  remoteHost?: string
  remote?: string
  nonce: string
  caps: ProbeCaps
  lowTtl?: number
  initiator: boolean
  echoBytes?: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const print = (o: Record<string, unknown>): void => { console.log(JSON.stringify(o)) }
const split = (a: string): { host: string, port: number } => ({ host: a.slice(0, a.lastIndexOf(':')), port: Number(a.slice(a.lastIndexOf(':') + 1)) })
const STREAM_ID = { probe: 1, open: 2 }

const udx = new UDX()
const main = udx.createSocket()
main.bind(0, '0.0.0.0')
const demux = new DatagramDemux(main)
const controller = new AbortController()
const nonce = Buffer.from(args.nonce, 'hex')
let keepalivesSeen = 0
demux.on('BRWP', buf => { if (decodeProbe(buf)?.kind === 'KEEPALIVE') keepalivesSeen++ })

process.on('SIGTERM', () => {
  controller.abort(new Error('SIGTERM'))
  void main.close().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
})
const keepAlive = setInterval(() => {}, 60_000)

async function stun (server: string): Promise<string> {
  const { host, port } = split(server)
  const request = Buffer.from(encodeBindingRequest())
  const txid = request.subarray(8, 20)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); clearInterval(resend); reject(new Error(`no STUN answer from ${server}`)) }, 5000)
    const off = demux.on('STUN', buf => {
      const h = parseHeader(buf)
      if (h === undefined || !Buffer.from(h.transactionId).equals(txid)) return
      const mapped = mappedAddressOf(buf)
      if (mapped == null) return
      clearTimeout(timer)
      clearInterval(resend)
      off()
      resolve(`${mapped.address}:${mapped.port}`)
    })
    main.trySend(request, port, host)
    const resend = setInterval(() => { main.trySend(request, port, host) }, 500)
  })
}

async function echo (r: BirthdayResult): Promise<void> {
  const stream = udx.createStream(STREAM_ID[args.role])
  const peerId = args.role === 'probe' ? STREAM_ID.open : STREAM_ID.probe
  stream.on('error', err => { print({ streamError: (err as Error).message }) })
  stream.connect(r.socket, peerId, r.remotePort, r.remoteHost)
  const started = performance.now()
  if (args.initiator) {
    const payload = randomBytes(args.echoBytes ?? 65536)
    const chunks: Buffer[] = []
    let got = 0
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`echo: ${got} of ${payload.length} bytes back after 20 s`)) }, 20_000)
      stream.on('data', (d: Buffer) => {
        chunks.push(d)
        got += d.length
        if (got >= payload.length) { clearTimeout(timer); resolve() }
      })
      stream.write(payload)
    })
    const back = Buffer.concat(chunks)
    print({ echo: { ok: back.equals(payload), bytes: back.length, ms: Math.round(performance.now() - started), rttMs: stream.rtt } })
    stream.end()
  } else {
    let bytes = 0
    stream.on('data', (d: Buffer) => { bytes += d.length; stream.write(d) })
    await new Promise<void>(resolve => { stream.once('end', () => { resolve() }) })
    stream.end()
    print({ echo: { ok: bytes > 0, bytes, ms: Math.round(performance.now() - started), rttMs: stream.rtt } })
  }
}

async function run (): Promise<void> {
  let result: BirthdayResult
  try {
    if (args.role === 'probe') {
      print({ public: await stun(args.stun ?? '') })
      await new Promise<void>(resolve => { process.once('SIGUSR2', () => { resolve() }) })
      print({ probing: true })
      result = await probeRandomPorts(main, demux, args.remoteHost ?? '', nonce, args.caps, controller.signal)
    } else {
      result = await openBirthdaySockets(udx, split(args.remote ?? ''), nonce, args.caps, controller.signal, {
        ...(args.lowTtl !== undefined ? { lowTtl: args.lowTtl } : {}),
        onOpen: ({ sockets }) => { print({ armed: sockets }) }
      })
    }
  } catch (err) {
    print({ error: { code: (err as { code?: string }).code, message: (err as Error).message }, keepalivesSeen })
    print({ done: true })
    return
  }
  print({ hit: { remote: `${result.remoteHost}:${result.remotePort}`, probes: result.probes, sockets: result.sockets, ms: result.ms, winnerIsMain: result.socket === main }, keepalivesSeen })
  try {
    await echo(result)
  } catch (err) {
    print({ echo: { ok: false, error: (err as Error).message } })
  }
  print({ done: true, keepalivesSeen })
}

run().catch(err => {
  print({ fatal: (err as Error).stack })
  clearInterval(keepAlive)
  process.exitCode = 1
})
