/**
 * Asks AutoNAT v2 to dial back a new candidate address (a port mapping) over the connections
 * already open, instead of waiting for the next peer to connect.
 *
 * @libp2p/autonat-v2 asks a peer to verify our unverified addresses once, when the peer
 * connects (its topology's onConnect). A port mapping is made a few seconds after the
 * bootstrap connections, so its address would wait for a new peer, which may never come on
 * a small swarm. The client's `verifyExternalAddresses(connection)` is what onConnect calls;
 * the service keeps the client in a field that its typings mark private.
 *
 * The client is reached through the patch autonat-v2-dial-back (src/upstream), checked at
 * start while port mapping is on; with port mapping off and the client gone,
 * `autoNatDialBack` logs once and returns undefined (nothing would ask for a dial-back).
 * @see https://github.com/libp2p/specs/blob/master/autonat/autonat-v2.md
 */
import { serviceDependencies } from '@libp2p/interface'
import { checkAutoNatV2Client } from '../upstream/index.js'
import type { AutoNatClientInternals } from '../upstream/index.js'
import type { ComponentLogger, Connection, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** The log name of the dial-back requester. */
const LOG_NAME = 'burrow:nat:dial-back'

/** AutoNAT v2's dial request protocol: a peer that speaks it can dial us back. */
export const AUTONAT_V2_DIAL_REQUEST = '/libp2p/autonat/2/dial-request'

/** Mappings of several listen ports land within a moment of each other: one round of requests for all. */
const COALESCE_MS = 200

/** A verification round takes at most AutoNAT v2's own timeout (30 s, its TIMEOUT), plus a margin. */
const ROUND_TIMEOUT_MS = 35_000

/**
 * How long a round waits for AutoNAT's requests already under way (those of a new
 * connection's identify) before asking. Not the whole round timeout: such a request can hang
 * until the server gives up (30 s) on a dial-back that never gets through (an observed UDP
 * address behind a NAT's filter; the stock client sets no timeout of its own), and the new
 * mapping would wait for it. A request of ours that overlaps one under way is harmless: a
 * current burrow server dials back from an ephemeral port, and a lost answer is asked again
 * (forgetPending).
 */
const IDLE_BEFORE_ROUND_MS = 2_000

/**
 * While an address stays unconfirmed, ask again after these delays (then every last one).
 * A request over a connection that died with the router's state (a reboot flushes the NAT's
 * connection table) gets no answer, and a peer that answered may have failed for a passing
 * reason (its dial-back came before the router forwarded, or while our request had gone): each
 * round asks again, AutoNAT's per-segment memory of the address forgotten (forgetPending).
 */
const RETRY_MS = [5_000, 10_000, 30_000, 60_000]

/** A connection that does not answer a ping within this long is taken for dead (a NAT that lost its state). */
const PING_TIMEOUT_MS = 5_000

/** AutoNAT peers remembered to dial again when their connection died (a reboot or a new WAN address kills them all). */
const REMEMBERED_PEERS = 4

export interface DialBackComponents {
  getConnections: () => Connection[]
  peerStore: PeerStore
  /** whether some address still waits for a dial-back (retries stop when none does) */
  unconfirmed: () => boolean
  /** one round trip over an open connection (throws when there is no answer) */
  ping: (conn: Connection, options: { signal: AbortSignal }) => Promise<unknown>
  /** opens a new connection to a peer */
  dial: (peer: PeerId, options: { signal: AbortSignal }) => Promise<unknown>
  /** where the requester logs (the service's component logger, `burrow:nat:dial-back`) */
  log: Logger
}

export interface DialBack {
  /** a new candidate address: ask the connected AutoNAT peers (coalesced, never overlapping) */
  request: () => void
  /** cancels the retry timer */
  stop: () => void
}

/**
 * Returns the dial-back requester, or undefined (logged) when the installed AutoNAT cannot
 * be asked. One round asks each AutoNAT v2 peer we dialed out to (one connection each, up to
 * REMEMBERED_PEERS of them) to verify our unverified addresses; a peer whose connection does
 * not answer a ping is dialed again instead (identify then makes AutoNAT ask it). Rounds
 * never overlap, and each waits a moment for AutoNAT's queue to be idle: two requests for one address
 * to one peer race, an older burrow peer's second dial fails as a duplicate (one dial port; a
 * current one dials from an ephemeral port then, src/holepunch/stable-port-tcp.ts), and AutoNAT
 * takes that as "not reachable" for the peer's whole network segment. Rounds repeat
 * (RETRY_MS) while an address stays unconfirmed, and while one does, each request is made
 * with AutoNAT's pending entries forgotten (forgetPending): the mapped address is asked again
 * of every peer, ahead of observed addresses.
 */
export function autoNatDialBack (autoNat: unknown, components: DialBackComponents): DialBack | undefined {
  const log = components.log
  let client: AutoNatClientInternals
  try {
    client = checkAutoNatV2Client(autoNat)
  } catch (err) {
    log.error('%s: mapped addresses are confirmed only when new peers connect', (err as Error).message)
    return undefined
  }
  const verify = client.verifyExternalAddresses
  /**
   * Deletes the client's entries for the addresses still waiting (AutoNAT makes them again
   * when it asks). Without this, one answer from a network segment that did not confirm an
   * address (a failed dial-back, or one lost because our request had gone) keeps every peer
   * of that segment, all of a small swarm, from being asked about it again; and the client
   * lists addresses in the order their entries were made, so an observed address made before
   * the mapping (a UDP one, whose dial-back a NAT's filter leaves hanging until the server's
   * timeout) holds the mapped one behind it on a server that dials them one by one. Made
   * again, the mapped address comes first (AutoNAT sorts observed addresses last).
   */
  const forgetPending = (): void => {
    for (const [addr, r] of client.dialResults) {
      if (r.result != null) continue
      if ((r.networkSegments?.length ?? 0) > 0) log('%s not confirmed by the peers asked (AutoNAT saw %d success, %d failure from segments %s): asking again', addr, r.success ?? 0, r.failure ?? 0, r.networkSegments?.join(',') ?? '')
      client.dialResults.delete(addr)
    }
  }
  const idle = async (ms: number): Promise<void> => {
    await client.queue?.onIdle?.({ signal: AbortSignal.timeout(ms) }).catch(() => {})
  }
  let chain: Promise<void> = Promise.resolve()
  let pending = false
  let stopped = false
  let retries = 0
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  // AutoNAT peers we had outbound connections to, oldest first
  const remembered = new Map<string, PeerId>()
  const round = async (): Promise<void> => {
    await new Promise(resolve => setTimeout(resolve, COALESCE_MS).unref())
    pending = false
    if (stopped) return
    await idle(IDLE_BEFORE_ROUND_MS)
    const connections = components.getConnections()
    // a peer that dialed in to us holds a connection to our external address from its dial
    // port, so an older burrow peer's dial-back to that address fails as a duplicate (one
    // 4-tuple; a current one dials from an ephemeral port then), and AutoNAT
    // would take that false "unreachable" for the whole network segment: ask the others
    const dialedIn = new Set(connections.filter(c => c.direction === 'inbound' && c.limits == null).map(c => c.remotePeer.toString()))
    for (const conn of connections) {
      // AutoNAT does not run over relayed (limited) connections
      if (conn.limits != null || conn.status !== 'open' || dialedIn.has(conn.remotePeer.toString())) continue
      const info = await components.peerStore.get(conn.remotePeer).catch(() => undefined)
      if (info?.protocols.includes(AUTONAT_V2_DIAL_REQUEST) !== true) continue
      remembered.delete(conn.remotePeer.toString())
      remembered.set(conn.remotePeer.toString(), conn.remotePeer)
      if (remembered.size > REMEMBERED_PEERS) remembered.delete(remembered.keys().next().value ?? '')
    }
    /** an open, unlimited connection we dialed to `peer` (AutoNAT asks over those) */
    const openDialedTo = (peer: PeerId): Connection | undefined => components.getConnections().find(c => c.remotePeer.equals(peer) && c.limits == null && c.status === 'open' && c.direction === 'outbound')
    for (const [key, peer] of remembered) {
      if (stopped) return
      if (dialedIn.has(key)) continue
      const conn = openDialedTo(peer)
      if (conn != null) {
        const alive = await components.ping(conn, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) }).then(() => true, () => false)
        if (alive) {
          // the ping may have gone over another connection to the peer: ask over one open now
          const live = conn.status === 'open' ? conn : openDialedTo(peer)
          if (live != null) {
            if (components.unconfirmed()) forgetPending()
            log('asking %p to dial back our new addresses', peer)
            await verify.call(client, live).catch((err: Error) => { log('dial-back request to %p failed - %e', peer, err) })
            continue
          }
        }
        // the router lost this connection (reboot, new WAN address): a new one asks AutoNAT itself, on identify
        log('%p does not answer over its connection: connecting again', peer)
        conn.abort(new Error('no answer to a ping after our external address changed'))
      } else {
        log('no connection to %p: connecting again', peer)
      }
      await components.dial(peer, { signal: AbortSignal.timeout(ROUND_TIMEOUT_MS) }).catch((err: Error) => { log('could not reach %p - %e', peer, err) })
    }
    await idle(ROUND_TIMEOUT_MS)
    if (stopped || !components.unconfirmed()) { retries = 0; return }
    clearTimeout(retryTimer)
    retryTimer = setTimeout(run, RETRY_MS[Math.min(retries++, RETRY_MS.length - 1)])
    retryTimer.unref()
  }
  const run = (): void => {
    if (pending || stopped) return
    pending = true
    chain = chain.then(round).catch((err: Error) => { log.error('dial-back requests failed - %e', err) })
  }
  return {
    request: () => { retries = 0; run() },
    stop: () => { stopped = true; clearTimeout(retryTimer) }
  }
}

/** What the dial-back service reads of the port mapper: its new mappings and whether one waits for confirmation. */
export interface MappingSource extends Pick<EventTarget, 'addEventListener' | 'removeEventListener'> {
  report: () => { mappings: Array<{ offered: boolean, announced: boolean }> }
}

export interface AutoNatDialBackComponents {
  /** the AutoNAT v2 service (its client is reached through src/upstream) */
  autoNAT: unknown
  /** emits 'nat:mapping-created' */
  portMapper: MappingSource
  ping: { ping: (peer: PeerId, options: { signal: AbortSignal }) => Promise<unknown> }
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'openConnection'>
  peerStore: PeerStore
  logger: ComponentLogger
}

/**
 * The dial-back requester as a service: each new port mapping asks the AutoNAT peers we
 * already have to dial its address back (see autoNatDialBack). Wired once libp2p has
 * started (afterStart), as the node did; stop() cancels the retries.
 */
export class AutoNatDialBackService implements Startable {
  private readonly components: AutoNatDialBackComponents
  private readonly log: Logger
  private dialBack?: DialBack
  private readonly onMapped = (): void => { this.dialBack?.request() }

  constructor (components: AutoNatDialBackComponents) {
    this.components = components
    this.log = components.logger.forComponent(LOG_NAME)
  }

  readonly [Symbol.toStringTag] = 'burrow:nat:dial-back'
  readonly [serviceDependencies]: string[] = ['@libp2p/autonat', '@libp2p/ping']

  /** whether a mapping's address is asked for (false: the installed AutoNAT cannot be asked, or not started) */
  get active (): boolean {
    return this.dialBack != null
  }

  start (): void {}

  afterStart (): void {
    if (this.dialBack != null) return
    const { connectionManager, portMapper } = this.components
    this.dialBack = autoNatDialBack(this.components.autoNAT, {
      getConnections: () => connectionManager.getConnections(),
      peerStore: this.components.peerStore,
      unconfirmed: () => portMapper.report().mappings.some(m => m.offered && !m.announced),
      ping: async (conn, options) => this.components.ping.ping(conn.remotePeer, options),
      dial: async (peer, options) => connectionManager.openConnection(peer, options),
      log: this.log
    })
    if (this.dialBack != null) portMapper.addEventListener('nat:mapping-created', this.onMapped)
  }

  stop (): void {
    this.components.portMapper.removeEventListener('nat:mapping-created', this.onMapped)
    this.dialBack?.stop()
    this.dialBack = undefined
  }
}

export function autoNatDialBackService (): (components: AutoNatDialBackComponents) => AutoNatDialBackService {
  return (components) => new AutoNatDialBackService(components)
}
