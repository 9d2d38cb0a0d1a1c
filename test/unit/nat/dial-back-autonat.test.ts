// The dial-back requester (src/nat/dial-back.ts) driving the stock @libp2p/autonat-v2 client,
// whose requests go over in-process stream pairs to a fake AutoNAT v2 server that speaks the
// real protocol (the package's own protobuf codec). Every peer of a small swarm shares one
// network segment (the first octet of its IP), as all of the lab's public hosts do.
//
// The stock client keeps one record per unverified address, made when a request first lists
// it, and (1) asks a network segment about an address once: one answer that did not confirm
// it (a dial-back that came before the router forwarded) and no peer of that segment is asked
// again; (2) lists addresses in the order their records were made, so an observed UDP address
// recorded before the mapping existed goes first, and a server that dials them one by one
// spends the request on it (its dial-back hangs on the NAT's filter) before the mapped one.
// Seen in CI: the NAT-PMP / PCP mapping of test/portmap/protocols.test.ts never confirmed.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { peerIdFromString } from '@libp2p/peer-id'
import { pbStream, streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { autoNatDialBack, AUTONAT_V2_DIAL_REQUEST } from '../../../src/nat/dial-back.ts'
import { AUTONAT_V2_CLIENT } from '../../../src/upstream/autonat-v2-client.ts'
import { importInternal } from '../../../src/upstream/patch.ts'
import { registerUdxProtocol } from '../../../src/udx/multiaddr.ts'
import { logger } from '../services/fakes.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'

const SERVER = peerIdFromString('12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3')
const MAPPED = '/ip4/21.2.39.101/tcp/4001'
const OBSERVED_UDP = '/ip4/21.2.39.101/udp/4001/x-burrow-udx'

/** How long the fake server spends on a dial-back that never gets through before the request dies. */
const HANG_MS = 300
/** Bound on waiting for a confirmation: past the requester's first two retries (5 s, 10 s). */
const WAIT_MS = 17_000

interface Pb {
  Message: { codec: () => unknown }
  DialResponse: { ResponseStatus: { OK: unknown } }
  DialStatus: { OK: unknown, E_DIAL_ERROR: unknown }
}
registerUdxProtocol()
const pb = await importInternal(AUTONAT_V2_CLIENT, './pb/index.js') as Pb

interface Address { multiaddr: Multiaddr, verified: boolean, type: string, expires: number, lastVerified?: number }

/** What the fake server does with one requested address: answer a dial status, hang a moment, or hang until the test ends (the server's own 30 s). */
type Verdict = 'ok' | 'dial-error' | 'hang' | 'hang-long'

/** Requests hanging 'long', released when the tests end. */
const hanging = new Set<() => void>()

function swarm (decide: (addr: string, asked: number) => Verdict) {
  const addresses: Address[] = []
  const asked: string[][] = []
  const perAddress = new Map<string, number>()
  const serve = async (stream: Stream): Promise<void> => {
    const messages = pbStream(stream).pb(pb.Message as never) as unknown as {
      read: () => Promise<{ dialRequest?: { addrs: Uint8Array[] } }>
      write: (m: unknown) => Promise<void>
    }
    const { dialRequest } = await messages.read()
    const addrs = (dialRequest?.addrs ?? []).map(b => multiaddr(b).toString())
    asked.push(addrs)
    // like the stock server: one address after the other, within one request
    for (let i = 0; i < addrs.length; i++) {
      const n = (perAddress.get(addrs[i]!) ?? 0) + 1
      perAddress.set(addrs[i]!, n)
      const verdict = decide(addrs[i]!, n)
      if (verdict === 'hang' || verdict === 'hang-long') {
        await new Promise<void>(resolve => {
          if (verdict === 'hang') setTimeout(resolve, HANG_MS)
          else hanging.add(resolve)
        })
        stream.abort(new Error('the dial-back did not get through before the request was given up'))
        return
      }
      await messages.write({ dialResponse: { addrIdx: i, status: pb.DialResponse.ResponseStatus.OK, dialStatus: verdict === 'ok' ? pb.DialStatus.OK : pb.DialStatus.E_DIAL_ERROR } })
    }
    await stream.close()
  }
  const conn = {
    id: 'to-server',
    remotePeer: SERVER,
    remoteAddr: multiaddr(`/ip4/21.2.39.10/tcp/4001/p2p/${SERVER.toString()}`),
    direction: 'outbound',
    status: 'open',
    limits: undefined,
    abort () {},
    newStream: async () => {
      const [out, inb] = await streamPair()
      serve(inb).catch(() => {})
      return out
    }
  }
  const addressManager = {
    getAddressesWithMetadata: () => addresses.map(a => ({ ...a })),
    confirmObservedAddr: (ma: Multiaddr) => {
      const a = addresses.find(x => x.multiaddr.toString() === ma.toString())
      if (a != null) Object.assign(a, { verified: true, expires: Date.now() + 3_600_000, lastVerified: Date.now() })
    },
    removeObservedAddr: () => {}
  }
  const peerStore = { get: async () => ({ id: SERVER, addresses: [], protocols: [AUTONAT_V2_DIAL_REQUEST] }) }
  const components = {
    logger,
    peerId: peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),
    addressManager,
    peerStore,
    registrar: { register: async () => 'topology', unregister: () => {}, handle: async () => {}, unhandle: async () => {} },
    connectionManager: { getConnections: () => [conn], getMaxConnections: () => 100, isDialable: async () => true, openConnection: async () => conn },
    randomWalk: { walk: async function * () {} }
  }
  const service = autoNATv2()(components as never) as unknown as { client: { verifyExternalAddresses: (c: unknown) => Promise<void> }, start: () => Promise<void>, stop: () => Promise<void> }
  const mapped = (): Address | undefined => addresses.find(a => a.multiaddr.toString() === MAPPED)
  const requester = autoNatDialBack(service, {
    getConnections: () => [conn as never],
    peerStore: peerStore as never,
    unconfirmed: () => mapped()?.verified !== true,
    ping: async () => 1,
    dial: async () => conn,
    log: logger.forComponent('test:dial-back')
  })
  assert.ok(requester != null, 'the installed AutoNAT v2 client can be asked')
  return { addresses, asked, conn, service, requester, mapped }
}

async function confirmedWithin (check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (check()) return true
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return check()
}

describe('the dial-back requester with the stock AutoNAT v2 client (one network segment)', () => {
  const stops: Array<() => Promise<void>> = []
  after(async () => {
    for (const release of hanging) release()
    for (const s of stops) await s()
  })

  it('a mapped address whose first dial-back failed is asked again, and the next answer confirms it', async () => {
    // the first dial-back fails (it came before the router forwarded the port); later ones get through
    const s = swarm((_addr, n) => n === 1 ? 'dial-error' : 'ok')
    await s.service.start()
    stops.push(async () => { s.requester.stop(); await s.service.stop() })
    s.addresses.push({ multiaddr: multiaddr(MAPPED), verified: false, type: 'ip-mapping', expires: 0 })
    s.requester.request()
    const confirmed = await confirmedWithin(() => s.mapped()?.verified === true, WAIT_MS)
    assert.ok(s.asked.length >= 1 && s.asked[0]!.includes(MAPPED), `the mapping was asked about: ${JSON.stringify(s.asked)}`)
    assert.equal(confirmed, true, `the peers of the segment that failed once were asked again and confirmed it (requests: ${JSON.stringify(s.asked)})`)
  })

  /**
   * The first connection's identify (over UDX) reported the observed UDP address and AutoNAT
   * asked about it (its dial-back gets `udp`); then the mapping was made and our requester asked.
   */
  async function observedThenMapped (udp: 'hang' | 'hang-long'): Promise<{ s: ReturnType<typeof swarm>, confirmed: boolean }> {
    const s = swarm(addr => addr === OBSERVED_UDP ? udp : 'ok')
    await s.service.start()
    stops.push(async () => { s.requester.stop(); await s.service.stop() })
    s.addresses.push({ multiaddr: multiaddr(OBSERVED_UDP), verified: false, type: 'observed', expires: 0 })
    await s.service.client.verifyExternalAddresses(s.conn)
    s.addresses.push({ multiaddr: multiaddr(MAPPED), verified: false, type: 'ip-mapping', expires: 0 })
    s.requester.request()
    return { s, confirmed: await confirmedWithin(() => s.mapped()?.verified === true, WAIT_MS) }
  }

  it('a mapped address made after an observed UDP address is asked about first, so a hanging dial-back of the other does not hold it', async () => {
    // the NAT's filter drops the dial-back to the observed UDP port; the mapped TCP port forwards
    const { s, confirmed } = await observedThenMapped('hang')
    const withMapped = s.asked.filter(a => a.includes(MAPPED))
    assert.ok(withMapped.length >= 1, `the mapping was asked about: ${JSON.stringify(s.asked)}`)
    assert.equal(confirmed, true, `the mapped address went first and was confirmed (requests: ${JSON.stringify(s.asked)})`)
    assert.equal(withMapped.at(-1)![0], MAPPED, 'listed ahead of the observed address')
  })

  it('a request under way that hangs (a dial-back the NAT drops) does not hold the new mapping back', async () => {
    // the server spends its whole timeout (30 s) on the observed UDP address's dial-back
    const { s, confirmed } = await observedThenMapped('hang-long')
    assert.deepEqual(s.asked[0], [OBSERVED_UDP])
    assert.ok(hanging.size >= 1, 'the first request still hangs')
    assert.equal(confirmed, true, `the mapping was asked about beside it and confirmed (requests: ${JSON.stringify(s.asked)})`)
  })
})
