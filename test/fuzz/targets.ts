/**
 * Every decoder a peer or a LAN device can feed, one entry each: the message protocol's
 * protobufs and its framing reader, the path from a received Message to what `burrow inbox`
 * prints, DCUtR (protobuf and stream), identify's observed address, STUN (both ends),
 * NAT-PMP, PCP, UPnP (SSDP, description, SOAP) and the config loader. A target is fed
 * bytes and returns what the code made of them; see engine.ts for the properties every
 * target must keep. docs/fuzzing.md has the table, figures and findings.
 *
 * Violations that today's code shows because of a defect being fixed elsewhere are listed
 * in KNOWN by target and kind, with the reason: the quick test runs the target and prints
 * them, but fails only on other kinds. Remove an entry once its fix has landed.
 */
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { isIP, isIPv4 } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pbStream, streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { defaultLogger } from '@libp2p/logger'
import { CONFIG_FILE, defaultsObject, loadConfig } from '../../dist/config/index.js'
import { ControlServer, inboxJson } from '../../dist/control/index.js'
import { MAX_MESSAGE_BYTES as DCUTR_MAX_MESSAGE_BYTES } from '../../dist/holepunch/constants.js'
import { HolePunch } from '../../dist/holepunch/pb/holepunch.js'
import { FrameStream, encodeFrame } from '../../dist/messaging/framing.js'
import { Messaging } from '../../dist/messaging/index.js'
import { Ack, Message } from '../../dist/messaging/pb/message.js'
import { InboxRecord } from '../../dist/messaging/pb/store.js'
import { tcpEndpoint } from '../../dist/nat/index.js'
import { parsePeerId } from '../../dist/node/index.js'
import * as natPmpCodec from '../../dist/portmap/nat-pmp.js'
import * as pcpCodec from '../../dist/portmap/pcp.js'
import * as upnpCodec from '../../dist/portmap/upnp.js'
import {
  BINDING_REQUEST, encodeBindingRequest, encodeBindingResponse, fingerprintOk, mappedAddressOf, parseHeader
} from '../../dist/stun/index.js'
import { HarnessError, PropertyError, roundTrips, varint } from './engine.ts'
import type { FuzzTarget, Rng, Violation, ViolationKind } from './engine.ts'
import type { Stream } from '@libp2p/interface'
import type { MessagingComponents } from '../../dist/messaging/index.js'

const utf8 = new TextEncoder()
const text = (s: string): Uint8Array => utf8.encode(s)
/** Lenient, as the code under test reads network text (`Buffer#toString('utf8')`). */
const asText = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')

/** Protobuf field keys (field 1–7, wire types 0 and 2) of the schemas fuzzed here. */
const PB_DICTIONARY = [0x08, 0x0a, 0x10, 0x12, 0x18, 0x1a, 0x20, 0x22, 0x28, 0x2a, 0x30, 0x38].map(b => Uint8Array.of(b))

const ACK_STATUSES = Object.values(Ack.Status).filter((v): v is Ack.Status => typeof v === 'string')

const PEER = '12D3KooWGRUVh3VR2QqmyWm4vFbsJgrCgDCdtL5m3XtDxX3sGVH6'

const PAIR_ADDR = multiaddr('/ip4/127.0.0.1/tcp/4001')

/** A frame limit small enough that the fuzzer's length tweaks cross it often. */
const FRAME_LIMIT = 1024

function randomMessage (rng: Rng): Message {
  const m: Message = { id: rng.string(40), sentAtMs: rng.u64(), body: rng.bytes(rng.length(256)) as Uint8Array<ArrayBuffer> }
  if (rng.bool()) m.contentType = rng.string(40)
  return m
}

function messageSeeds (): Uint8Array[] {
  return [
    Message.encode({ id: 'a1b2c3', sentAtMs: 1_764_000_000_000n, body: text('hello') as Uint8Array<ArrayBuffer> }),
    Message.encode({ id: '0f3c2c3e-3c0b-4c4b-9a61-2d6d3c8d9e10', sentAtMs: 1_764_000_000_000n, body: text('{"k":1}') as Uint8Array<ArrayBuffer>, contentType: 'application/json' }),
    Message.encode({ id: 'x', sentAtMs: 1n, body: new Uint8Array(300) as Uint8Array<ArrayBuffer>, contentType: 'application/octet-stream' }),
    Message.encode({ id: 'long-id-'.repeat(15), sentAtMs: 0n, body: text('é✓😀') as Uint8Array<ArrayBuffer>, contentType: 'text/plain; charset=utf-8' })
  ]
}

/**
 * Writes `input` into one end of a libp2p stream pair, as a peer would, in 1 to 8 pieces
 * (their number drawn from the input itself, so a replay writes the same), then closes it;
 * `consume` reads the other end.
 */
async function overStream<T> (input: Uint8Array, consume: (inbound: Stream) => Promise<T>): Promise<T> {
  let pair
  try {
    // fixed addresses: by default each pair's remote port is a counter that passes 65535 after 32k pairs
    pair = await streamPair({ delay: 0, outboundConnection: { remoteAddr: PAIR_ADDR }, inboundConnection: { remoteAddr: PAIR_ADDR } })
  } catch (err) {
    throw new HarnessError('could not make a stream pair', { cause: err })
  }
  const [outbound, inbound] = pair
  try {
    const piece = Math.max(1, Math.ceil(input.byteLength / (1 + ((input[0] ?? 0) % 8))))
    const writing = (async () => {
      for (let i = 0; i < input.byteLength; i += piece) {
        if (!outbound.send(input.subarray(i, i + piece))) await outbound.onDrain()
      }
      await outbound.close()
    })()
    writing.catch(() => {}) // a reader that gave up makes the writer fail: not what is judged here
    return await consume(inbound)
  } finally {
    outbound.abort(new Error('fuzz input done'))
    inbound.abort(new Error('fuzz input done'))
  }
}

/** The frames the /burrow/message reader makes of a stream, until the sender's clean end or an error. */
async function readFrames (input: Uint8Array, limit: number): Promise<Uint8Array[]> {
  return overStream(input, async inbound => {
    const frames = new FrameStream(inbound, limit)
    const out: Uint8Array[] = []
    while (true) {
      const frame = await frames.read({ signal: AbortSignal.timeout(10_000) })
      if (frame == null) break
      if (frame.byteLength > limit) throw new PropertyError(`a frame of ${frame.byteLength} bytes passed the limit of ${limit}`)
      out.push(frame)
    }
    const total = out.reduce((n, f) => n + f.byteLength, 0)
    if (total > input.byteLength) throw new PropertyError(`${total} frame bytes from a ${input.byteLength}-byte stream`)
    return out
  })
}

/** The DCUtR messages the hole-punch handler reads from a stream (pbStream, 4 KiB cap), up to 3 exchanges' worth. */
async function readHolePunches (input: Uint8Array): Promise<HolePunch[]> {
  return overStream(input, async inbound => {
    const pb = pbStream(inbound, { maxDataLength: DCUTR_MAX_MESSAGE_BYTES }).pb(HolePunch)
    const out: HolePunch[] = []
    for (let i = 0; i < 6; i++) {
      try {
        out.push(await pb.read({ signal: AbortSignal.timeout(10_000) }))
      } catch (err) {
        if (err instanceof Error && err.name === 'UnexpectedEOFError') break
        throw err
      }
    }
    const bytes = out.reduce((n, m) => n + m.ObsAddrs.reduce((k, a) => k + a.byteLength, 0), 0)
    if (bytes > input.byteLength) throw new PropertyError(`${bytes} address bytes from a ${input.byteLength}-byte stream`)
    return out
  })
}

function lengthPrefixed (messages: Uint8Array[]): Uint8Array {
  return Buffer.concat(messages.map(m => Buffer.concat([varint(BigInt(m.byteLength)), m])))
}

function concatFrames (frames: Uint8Array[]): Uint8Array {
  return Buffer.concat(frames.map(f => encodeFrame(f).subarray()))
}

/** The receive path of the message protocol: decode, check, store, then render as `burrow inbox` does. */
async function receiveAndRender (frame: Uint8Array): Promise<unknown> {
  // a fresh store per input, so an input's result does not depend on the ones before it
  const messaging = new Messaging({ datastore: new MemoryDatastore(), logger: defaultLogger() } as unknown as MessagingComponents, { maxInboundPerSecond: 1e9 })
  let stored: Parameters<typeof inboxJson>[0] | undefined
  messaging.addEventListener('message', evt => { stored = evt.detail })
  // the private step 2–4 of handleStream: what one frame from a peer turns into
  const ack = await messaging['receive'](frame, PEER, 'direct')
  if (!ACK_STATUSES.includes(ack.status)) throw new PropertyError(`ack status ${String(ack.status)}`)
  // `burrow inbox --follow` renders the event; `burrow inbox` renders the listing
  const follow = stored == null ? undefined : JSON.stringify(inboxJson(stored))
  const listing = (await messaging.inbox()).map(m => JSON.stringify(inboxJson(m)))
  if (ack.status === Ack.Status.OK) {
    const listed = await messaging.inbox()
    if (listed.length !== 1 || listing.length !== 1) throw new PropertyError(`acked OK but the inbox lists ${listed.length} messages`)
    // what is shown is what was sent: the store must keep a sender's valid (past) time as it came
    const sent = Message.decode(frame)
    const shown = listed[0]!
    if (shown.id !== sent.id || Buffer.compare(Buffer.from(shown.body), Buffer.from(sent.body)) !== 0 || shown.contentType !== sent.contentType) {
      throw new PropertyError('acked OK but the inbox shows another id, body or content type')
    }
    if (sent.sentAtMs <= BigInt(Date.now()) && BigInt(shown.sentAtMs) !== sent.sentAtMs) {
      throw new PropertyError(`acked OK with sentAtMs ${sent.sentAtMs} but the inbox shows ${shown.sentAtMs}`)
    }
  }
  return { ack, follow, listing }
}

function checkIp (ip: string, what: string): void {
  if (isIP(ip) === 0) throw new PropertyError(`${what} is not an IP address: ${JSON.stringify(ip)}`)
}

function checkPort (port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new PropertyError(`${what} is not a port: ${port}`)
}

function randomIp (rng: Rng): string {
  if (rng.bool()) return [0, 0, 0, 0].map(() => rng.int(256)).join('.')
  const groups = Array.from({ length: 8 }, () => rng.bool(0.3) ? 0 : rng.int(0x10000))
  return groups.map(g => g.toString(16)).join(':')
}

const STUN_RESPONSE_SEEDS = (): Uint8Array[] => {
  const tid = Uint8Array.from({ length: 12 }, (_, i) => i * 17)
  return [
    encodeBindingResponse(tid, { address: '203.0.113.7', port: 40001 }),
    encodeBindingResponse(tid, { address: '2001:db8::7', port: 443 }, 'burrow'),
    encodeBindingResponse(tid, { address: '::ffff:198.51.100.2', port: 1 })
  ]
}

const SSDP_SEED = [
  'HTTP/1.1 200 OK',
  'CACHE-CONTROL: max-age=120',
  'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'USN: uuid:8a3c4f2e-1b1a-4d6b-9f7a-3f2c1d0e9b8a::urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'EXT:',
  'SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1',
  'LOCATION: http://192.168.1.1:5000/rootDesc.xml',
  '', ''
].join('\r\n')

const service = (type: string, control: string): string =>
  `<service><serviceType>${type}</serviceType><serviceId>urn:upnp-org:serviceId:x</serviceId>` +
  `<controlURL>${control}</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/scpd.xml</SCPDURL></service>`

const DESCRIPTION_SEED = '<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>' +
  '<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>router</friendlyName>' +
  `<serviceList>${service('urn:schemas-upnp-org:service:Layer3Forwarding:1', '/ctl/L3F')}</serviceList><deviceList>` +
  '<device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList>' +
  '<device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>' +
  service('urn:schemas-upnp-org:service:WANIPConnection:1', '/ctl/IPConn') +
  service('urn:schemas-upnp-org:service:WANIPConnection:2', 'http://192.168.1.1:5000/ctl/IPConn2') +
  '</serviceList></device></deviceList></device></deviceList></device></root>'

const soap = (inner: string): string => '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
  `s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>${inner}</s:Body></s:Envelope>`

const SOAP_SEEDS = [
  soap('<u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalIPAddress>203.0.113.9</NewExternalIPAddress></u:GetExternalIPAddressResponse>'),
  soap('<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0">' +
    '<errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault>')
]

const XML_DICTIONARY = ['<', '>', '</', '/>', '<service>', '</service>', '<serviceType>', '</serviceType>', '<controlURL>', '</controlURL>',
  '<URLBase>', '</URLBase>', '&amp;', '&lt;', '&#', '<![CDATA[', ']]>', '<!--', '-->', 'u:', ' xmlns="x"',
  'urn:schemas-upnp-org:service:WANIPConnection:1', 'http://', '//', '[::1]', '%', '\r\n', '\u0000'].map(text)

/**
 * The control socket: a real ControlServer on a Unix socket in a temp home, in front of a
 * stand-in node that checks the PeerId as the real one does first and otherwise answers
 * empty. What is fuzzed is the request body: the server's JSON reading and each route's checks.
 */
const CONTROL_ROUTES = ['/v1/send', '/v1/find', '/v1/dial', '/v1/ping'] as const
let control: { home: string, server: ControlServer } | undefined

const standInNode = {
  // the server sizes its request cap from the node's config
  config: defaultsObject(),
  status: async () => ({}),
  connections: async () => [],
  nat: async () => ({}),
  inbox: async () => [],
  outbox: async () => [],
  find: async (peer: string) => ({ peerId: parsePeerId(peer).toString(), addresses: [] }),
  dial: async (target: string) => ({ target }),
  send: async (peer: string, body: string | Uint8Array) => ({ to: parsePeerId(peer).toString(), bytes: typeof body === 'string' ? body.length : body.byteLength }),
  dialStages: async function * (target: string) { yield { stage: 'done', target } },
  ping: async function * (peer: string) { yield { peer: parsePeerId(peer).toString(), rttMs: 1 } },
  addEventListener: () => {},
  removeEventListener: () => {}
}

async function controlRequest (socketPath: string, path: string, body: Uint8Array): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', err => { reject(new HarnessError(`control request failed: ${err.message}`, { cause: err })) })
    req.on('timeout', () => { req.destroy(new Error('control request timed out')) })
    req.end(body)
  })
}

/** The config loader reads HOME/config.json; one temp home, rewritten per input. */
let configHome = ''

export const TARGETS: FuzzTarget[] = [
  {
    name: 'message-pb',
    about: 'Message protobuf, /burrow/message/1.0.0 (src/messaging/pb/message.ts)',
    seeds: messageSeeds,
    dictionary: PB_DICTIONARY,
    run: input => Message.decode(input),
    roundTrip: rng => {
      roundTrips(randomMessage(rng), Message.encode, Message.decode)
    }
  },
  {
    name: 'ack-pb',
    about: 'Ack protobuf, /burrow/message/1.0.0 (src/messaging/pb/message.ts)',
    seeds: () => [
      Ack.encode({ id: 'a1b2c3', status: Ack.Status.OK }),
      Ack.encode({ id: '', status: Ack.Status.TOO_LARGE, reason: 'frame over 1049600 bytes' }),
      Ack.encode({ id: 'x', status: Ack.Status.RATE_LIMITED, reason: 'over the inbound message rate' })
    ],
    dictionary: PB_DICTIONARY,
    run: input => Ack.decode(input),
    roundTrip: rng => {
      const a: Ack = { id: rng.string(40), status: rng.pick(ACK_STATUSES) }
      if (rng.bool()) a.reason = rng.string(80)
      roundTrips(a, Ack.encode, Ack.decode)
    }
  },
  {
    name: 'inbox-record-pb',
    about: 'InboxRecord protobuf, the inbox on disk (src/messaging/pb/store.ts)',
    seeds: () => [
      InboxRecord.encode({ id: 'a1', from: PEER, sentAtMs: 1_764_000_000_000n, receivedAtMs: 1_764_000_000_100n, body: text('hi') as Uint8Array<ArrayBuffer>, relayed: true }),
      InboxRecord.encode({ id: 'b2', from: PEER, sentAtMs: 0n, receivedAtMs: 1n, body: new Uint8Array(64) as Uint8Array<ArrayBuffer>, contentType: 'image/png', relayed: false })
    ],
    dictionary: PB_DICTIONARY,
    run: input => InboxRecord.decode(input),
    roundTrip: rng => {
      const r: InboxRecord = { id: rng.string(40), from: rng.string(60), sentAtMs: rng.u64(), receivedAtMs: rng.u64(), body: rng.bytes(rng.length(128)) as Uint8Array<ArrayBuffer>, relayed: rng.bool() }
      if (rng.bool()) r.contentType = rng.string(30)
      roundTrips(r, InboxRecord.encode, InboxRecord.decode)
    }
  },
  {
    name: 'message-framing',
    about: 'length-prefixed frame reader over a libp2p stream pair (src/messaging/framing.ts)',
    seeds: () => [
      concatFrames(messageSeeds()),
      concatFrames([new Uint8Array(0), new Uint8Array(FRAME_LIMIT)]),
      Uint8Array.of(0x80, 0x08, 1, 2, 3) // 1024 in two prefix bytes, then a short body
    ],
    dictionary: PB_DICTIONARY,
    maxLen: 3 * FRAME_LIMIT,
    outputFactor: 16, // an array slot per empty frame; the frame bytes themselves are checked in readFrames
    run: async input => readFrames(input, FRAME_LIMIT),
    roundTrip: async rng => {
      const frames = Array.from({ length: 1 + rng.int(6) }, () => rng.bytes(rng.length(FRAME_LIMIT)))
      const read = await readFrames(concatFrames(frames), FRAME_LIMIT)
      assert.deepStrictEqual(read.map(f => Buffer.from(f).toString('hex')), frames.map(f => Buffer.from(f).toString('hex')))
    }
  },
  {
    name: 'message-to-inbox',
    about: 'a received frame → decode, checks, inbox store → `burrow inbox` JSON (messaging.ts receive, store.ts, control inboxJson)',
    seeds: messageSeeds,
    dictionary: [...PB_DICTIONARY, Uint8Array.of(0x10, 0x80, 0x80, 0xc0, 0xe6, 0xf6, 0xd9, 0xd9, 0x0f)], // sentAtMs = 8.64e15
    // receive() never throws: every bad input is an ack; and whatever is acked OK must render
    total: true,
    outputFactor: 8,
    maxLen: 1024,
    run: async input => receiveAndRender(input)
  },
  {
    name: 'dcutr-pb',
    about: 'DCUtR HolePunch protobuf and the multiaddrs in ObsAddrs (src/holepunch/pb/holepunch.ts)',
    seeds: () => [
      HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: [multiaddr('/ip4/203.0.113.5/tcp/4001').bytes, multiaddr('/ip6/2001:db8::5/tcp/4001').bytes] as Array<Uint8Array<ArrayBuffer>> }),
      HolePunch.encode({ type: HolePunch.Type.SYNC, ObsAddrs: [] }),
      HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: [multiaddr('/dns4/example.com/tcp/443/wss/p2p/12D3KooWGRUVh3VR2QqmyWm4vFbsJgrCgDCdtL5m3XtDxX3sGVH6').bytes] as Array<Uint8Array<ArrayBuffer>> })
    ],
    dictionary: [...PB_DICTIONARY, Uint8Array.of(0x04), Uint8Array.of(0x29), Uint8Array.of(0x06), Uint8Array.of(0xa5, 0x03), Uint8Array.of(0xa2, 0x02)],
    run: input => {
      const hp = HolePunch.decode(input)
      // the responder turns each address into a multiaddr (holepunch.ts usable()); one bad address must not hide the rest
      const addrs = hp.ObsAddrs.map(bytes => {
        try {
          return multiaddr(bytes).toString()
        } catch (err) {
          if (!(err instanceof Error)) throw err
          return null
        }
      })
      return { type: hp.type, addrs }
    },
    roundTrip: rng => {
      const hp: HolePunch = { type: rng.pick([HolePunch.Type.CONNECT, HolePunch.Type.SYNC]), ObsAddrs: Array.from({ length: rng.int(9) }, () => rng.bytes(rng.length(64)) as Uint8Array<ArrayBuffer>) }
      roundTrips(hp, HolePunch.encode, HolePunch.decode)
      const ma = multiaddr(`/${rng.bool() ? 'ip4/198.51.100.' + String(rng.int(256)) : 'ip6/2001:db8::' + rng.int(0x10000).toString(16)}/tcp/${rng.int(65536)}`)
      assert.equal(multiaddr(HolePunch.decode(HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: [ma.bytes as Uint8Array<ArrayBuffer>] })).ObsAddrs[0] as Uint8Array).toString(), ma.toString())
    }
  },
  {
    name: 'dcutr-stream',
    about: 'DCUtR messages as the hole-punch handler reads them from a stream: length prefix, 4 KiB cap, protobuf (src/holepunch/holepunch.ts)',
    seeds: () => [
      lengthPrefixed([
        HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: [multiaddr('/ip4/203.0.113.5/tcp/4001').bytes as Uint8Array<ArrayBuffer>] }),
        HolePunch.encode({ type: HolePunch.Type.SYNC, ObsAddrs: [] })
      ]),
      lengthPrefixed([HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: Array.from({ length: 8 }, (_, i) => multiaddr(`/ip6/2001:db8::${i}/tcp/4001`).bytes as Uint8Array<ArrayBuffer>) })])
    ],
    dictionary: [...PB_DICTIONARY, varint(4096n), varint(4097n)],
    maxLen: 3 * DCUTR_MAX_MESSAGE_BYTES,
    outputFactor: 16,
    run: async input => readHolePunches(input),
    roundTrip: async rng => {
      const sent = Array.from({ length: 1 + rng.int(3) }, () => ({ type: rng.pick([HolePunch.Type.CONNECT, HolePunch.Type.SYNC]), ObsAddrs: Array.from({ length: rng.int(9) }, () => rng.bytes(rng.length(64)) as Uint8Array<ArrayBuffer>) }))
      assert.deepStrictEqual(await readHolePunches(lengthPrefixed(sent.map(m => HolePunch.encode(m)))), sent)
    }
  },
  {
    name: 'identify-observed',
    about: 'the observedAddr a peer reports in identify → our public TCP endpoint → the address we send in CONNECT (src/nat/observed.ts tcpEndpoint)',
    seeds: () => ['/ip4/203.0.113.9/tcp/40001', '/ip6/2001:db8::9/tcp/4001', '/ip4/203.0.113.9/tcp/4001/p2p-circuit', '/ip4/198.51.100.3/udp/4001/quic-v1', '/dns4/example.com/tcp/4001']
      .map(a => multiaddr(a).bytes),
    dictionary: [Uint8Array.of(0x04), Uint8Array.of(0x29), Uint8Array.of(0x06), Uint8Array.of(0x91, 0x02), Uint8Array.of(0xa2, 0x02), Uint8Array.of(0x2a)],
    maxLen: 256,
    run: input => {
      const ep = tcpEndpoint(multiaddr(input))
      if (ep != null) {
        checkIp(ep.ip, 'the observed address')
        checkPort(ep.port, 'the observed port')
        // holepunch.ts ourAddresses() builds this from every candidate: it must not throw there
        try {
          multiaddr(`/${ep.ip.includes(':') ? 'ip6' : 'ip4'}/${ep.ip}/tcp/${ep.port}`)
        } catch (err) {
          throw new PropertyError(`observed ${ep.ip}:${ep.port} cannot be put back in a multiaddr: ${(err as Error).message}`)
        }
      }
      return ep
    }
  },
  {
    name: 'stun-server',
    about: 'STUN request as the relay\'s STUN server reads it, and its answer (src/stun/codec.ts, server.ts)',
    seeds: () => [
      encodeBindingRequest(Uint8Array.from({ length: 12 }, (_, i) => i)),
      ...STUN_RESPONSE_SEEDS()
    ],
    dictionary: [Uint8Array.of(0x21, 0x12, 0xa4, 0x42), Uint8Array.of(0x80, 0x28, 0x00, 0x04), Uint8Array.of(0x00, 0x20), Uint8Array.of(0x00, 0x01)],
    maxLen: 1024,
    run: input => {
      // server.ts onMessage: drop all but well-formed Binding requests, then answer
      const header = parseHeader(input)
      if (header?.type !== BINDING_REQUEST || !fingerprintOk(input)) return undefined
      return encodeBindingResponse(header.transactionId, { address: '198.51.100.1', port: 3478 }, 'burrow')
    }
  },
  {
    name: 'stun-client',
    about: 'STUN Binding response as our STUN client reads it (src/stun/codec.ts, client.ts)',
    seeds: STUN_RESPONSE_SEEDS,
    dictionary: [Uint8Array.of(0x21, 0x12, 0xa4, 0x42), Uint8Array.of(0x00, 0x20, 0x00, 0x08), Uint8Array.of(0x00, 0x20, 0x00, 0x14), Uint8Array.of(0x00, 0x01), Uint8Array.of(0x00, 0x02)],
    maxLen: 1024,
    run: input => {
      const header = parseHeader(input)
      const mapped = header == null ? undefined : mappedAddressOf(input)
      if (mapped != null) {
        checkIp(mapped.address, 'the mapped address')
        checkPort(mapped.port, 'the mapped port')
      }
      return mapped
    },
    roundTrip: rng => {
      const tid = rng.bytes(12)
      const mapped = { address: randomIp(rng), port: rng.int(65536) }
      const response = encodeBindingResponse(tid, mapped)
      assert.ok(fingerprintOk(response), 'FINGERPRINT of our own response')
      const decoded = mappedAddressOf(response)
      assert.ok(decoded != null, `no mapped address in the response for ${mapped.address}`)
      // the text form may differ (IPv6 zero groups): compare what it encodes to
      assert.deepStrictEqual(encodeBindingResponse(tid, decoded), response)
    }
  },
  {
    name: 'nat-pmp',
    about: 'NAT-PMP responses from the gateway, external address and mapping (src/portmap/nat-pmp.ts)',
    seeds: () => [
      Uint8Array.of(0, 128, 0, 0, 0, 0, 0, 42, 21, 1, 2, 3),
      Uint8Array.of(0, 130, 0, 0, 0, 0, 1, 0, 0x0f, 0xa1, 0x9c, 0x40, 0, 0, 0x0e, 0x10),
      Uint8Array.of(0, 129, 0, 0, 0, 0, 1, 0, 0x0f, 0xa1, 0x9c, 0x40, 0, 0, 0x0e, 0x10),
      Uint8Array.of(0, 128, 0, 3, 0, 0, 0, 9)
    ],
    maxLen: 64,
    run: input => {
      const ext = natPmpCodec.decodeExternalAddressResponse(input)
      if (ext != null && ext.resultCode === 0 && !isIPv4(ext.externalIp)) throw new PropertyError(`external address ${ext.externalIp}`)
      const out = [ext]
      for (const protocol of ['tcp', 'udp'] as const) {
        try {
          const map = natPmpCodec.decodeMapResponse(input, protocol)
          if (map != null) {
            checkPort(map.internalPort, 'internal port')
            checkPort(map.externalPort, 'external port')
          }
          out.push(map as never)
        } catch (err) {
          if (!(err instanceof Error) || err instanceof PropertyError) throw err
        }
      }
      return out
    }
  },
  {
    name: 'pcp',
    about: 'PCP responses from the gateway, ANNOUNCE and MAP (src/portmap/pcp.ts)',
    seeds: () => {
      const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1)
      const map = pcpCodec.encodeMapRequest({ nonce, protocol: 'tcp', internalPort: 4001, suggestedExternalPort: 4001, suggestedExternalIp: '', lifetimeSeconds: 7200, clientIp: '192.168.1.10' })
      const asResponse = (req: Uint8Array, external: string): Uint8Array => {
        const b = req.slice()
        b[1] = (b[1] ?? 0) | 0x80
        b.set([0, 0, 0, 0, 0, 0, 0x1c, 0x20, 0, 0, 0, 9], 4) // result, lifetime, epoch
        b.set(new Uint8Array(12), 12) // reserved
        if (b.byteLength >= 60) b.set(pcpCodec.encodeAddress(external), 44)
        return b
      }
      return [asResponse(map, '203.0.113.4'), asResponse(map, '2001:db8::4'), asResponse(pcpCodec.encodeAnnounceRequest('192.168.1.10'), '')]
    },
    maxLen: 1100,
    run: input => {
      const res = pcpCodec.decodeResponse(input)
      if (res?.map != null) {
        checkIp(res.map.externalIp, 'the external address')
        checkPort(res.map.externalPort, 'the external port')
      }
      return res
    },
    roundTrip: rng => {
      // every 16 bytes read as an address must encode back to the same 16 bytes
      const b = rng.bool(0.3) ? Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...rng.bytes(4)) : rng.bytes(16).map(x => rng.bool(0.4) ? 0 : x)
      const ip = pcpCodec.decodeAddress(b)
      assert.ok(isIP(ip) !== 0, `decodeAddress(${Buffer.from(b).toString('hex')}) = ${ip}, not an IP address`)
      assert.deepStrictEqual([...pcpCodec.encodeAddress(ip)], [...b], `address ${ip} from ${Buffer.from(b).toString('hex')}`)
    }
  },
  {
    name: 'upnp-ssdp',
    about: 'SSDP answers to M-SEARCH from any LAN host (src/portmap/upnp.ts parseSsdpResponse)',
    seeds: () => [text(SSDP_SEED), text(SSDP_SEED.replace('http://192.168.1.1:5000', 'http://[fe80::1]:5000'))],
    dictionary: ['\r\n', ':', 'LOCATION:', 'location: ', 'ST:', 'USN:', 'http://', 'https://', 'HTTP/1.1 200 OK', 'HTTP/1.0 200', ' ', '\n'].map(text),
    maxLen: 2048,
    run: input => {
      const r = upnpCodec.parseSsdpResponse(asText(input))
      if (r != null && !/^https?:\/\//i.test(r.location)) throw new PropertyError(`LOCATION ${r.location}`)
      return r
    }
  },
  {
    name: 'upnp-description',
    about: 'UPnP device description XML from the LOCATION URL (src/portmap/upnp.ts parseDescription)',
    seeds: () => [text(DESCRIPTION_SEED), text(DESCRIPTION_SEED.replace('<specVersion>', '<URLBase>http://192.168.1.1:5000/</URLBase><specVersion>'))],
    dictionary: XML_DICTIONARY,
    maxLen: 8192,
    run: input => {
      const services = upnpCodec.parseDescription(asText(input), 'http://192.168.1.1:5000/rootDesc.xml')
      // a control URL we would POST to must parse
      for (const s of services) if (!URL.canParse(s.controlUrl)) throw new PropertyError(`control URL ${s.controlUrl}`)
      return services
    }
  },
  {
    name: 'upnp-soap',
    about: 'UPnP SOAP answers and faults from the control URL (src/portmap/upnp.ts parseSoapResponse)',
    seeds: () => SOAP_SEEDS.flatMap(s => [Uint8Array.of(0, ...text(s)), Uint8Array.of(1, ...text(s))]),
    dictionary: [...XML_DICTIONARY, ...['<errorCode>', '</errorCode>', 'GetExternalIPAddressResponse', '<NewExternalIPAddress>', '</NewExternalIPAddress>'].map(text)],
    maxLen: 8192,
    // the first byte picks the HTTP status: even 200, odd 500
    run: input => upnpCodec.parseSoapResponse((input[0] ?? 0) % 2 === 0 ? 200 : 500, asText(input.subarray(1)), 'GetExternalIPAddress', ['NewExternalIPAddress'])
  },
  {
    name: 'control-request',
    about: 'a request body on the control socket: JSON reading and each route\'s checks (src/control/server.ts), a real server on a Unix socket',
    seeds: () => [
      [0, { peer: PEER, text: 'hello', id: 'a1' }], [0, { peer: PEER, base64: 'aGk=', contentType: 'application/octet-stream' }],
      [1, { peer: PEER }], [2, { target: PEER }], [2, { target: `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, waitDirectSeconds: 5 }],
      [3, { peer: PEER, count: 2 }]
    ].map(([route, body]) => Uint8Array.of(route as number, ...text(JSON.stringify(body)))),
    dictionary: ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '-1', '1e309', '3601', '0.5', '"peer"', '"text"', '"base64"', '"count"',
      '"waitDirectSeconds"', '"target"', '"__proto__"', '\\u0000', '\\ud800'].map(text),
    maxLen: 2048,
    setup: async () => {
      const home = await mkdtemp(join(tmpdir(), 'burrow-fuzz-control-'))
      await chmod(home, 0o700)
      const server = new ControlServer(standInNode as unknown as ConstructorParameters<typeof ControlServer>[0], home)
      await server.start()
      control = { home, server }
    },
    teardown: async () => {
      if (control == null) return
      await control.server.stop()
      await rm(control.home, { recursive: true, force: true })
      control = undefined
    },
    // the first byte picks the route, the rest is the body
    run: async input => {
      if (control == null) throw new HarnessError('no control server')
      const path = CONTROL_ROUTES[(input[0] ?? 0) % CONTROL_ROUTES.length]!
      const res = await controlRequest(control.server.socketPath, path, input.subarray(1))
      // a bad request is the client's error (4xx) with a one-line JSON error; a 5xx means the server did not expect it
      if (res.status >= 500) throw new PropertyError(`HTTP ${res.status} for a request body: ${res.body.slice(0, 200)}`)
      if (res.status !== 200) {
        const err = (JSON.parse(res.body) as { error?: { code?: unknown, message?: unknown } }).error
        if (typeof err?.code !== 'string' || typeof err.message !== 'string' || err.message.includes('\n')) throw new PropertyError(`HTTP ${res.status} without a one-line error: ${res.body.slice(0, 200)}`)
      }
      return res
    }
  },
  {
    name: 'config-file',
    about: 'HOME/config.json through the config loader (src/config/load.ts); local, lower priority',
    seeds: () => [
      text(JSON.stringify(defaultsObject(), null, 2)),
      text('{"messages":{"maxBytes":2048},"relay":{"enabled":true}}'),
      text('{}')
    ],
    dictionary: ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '1e308', '-0', '"__proto__"', '"constructor"', '{"a":{"b":{"c":1}}}'].map(text),
    maxLen: 4096,
    setup: async () => {
      configHome = await mkdtemp(join(tmpdir(), 'burrow-fuzz-config-'))
      await chmod(configHome, 0o700)
    },
    teardown: async () => {
      if (configHome !== '') await rm(configHome, { recursive: true, force: true })
      configHome = ''
    },
    run: async input => {
      await writeFile(join(configHome, CONFIG_FILE), input, { mode: 0o600 })
      return loadConfig({ home: configHome, env: {} })
    }
  }
]

/**
 * Violations that today's code is known to show because of a defect another change is
 * fixing, by target and kind, with the reason. The quick test still runs these targets and
 * prints what they find, but fails only on other kinds. Remove an entry once its fix lands.
 */
export const KNOWN: Record<string, Partial<Record<ViolationKind, string>>> = {
  // a defect of the dependency, not of burrow's use of it: burrow never encodes such a value
  // (a received sentAtMs below 2000-01-01 is refused MALFORMED, src/messaging/constants.ts
  // MIN_SENT_AT_MS; receivedAtMs is the local clock)
  'message-pb': {
    'round-trip': 'protons-runtime 7.1.2 encodes a uint64 (bigint) in [2^31, 2^32) wrongly: LongBits keeps lo as a signed int32, ' +
      'writeVarint64 writes one byte and leaves the rest of the varint unwritten (Buffer.allocUnsafe: stale memory)'
  },
  'inbox-record-pb': {
    'round-trip': 'the same protons-runtime uint64 defect, in InboxRecord.sentAtMs / receivedAtMs'
  }
}

/** The violations in a report that KNOWN does not excuse. */
export function unexpected (violations: Violation[]): Violation[] {
  return violations.filter(v => KNOWN[v.target]?.[v.kind] == null)
}
