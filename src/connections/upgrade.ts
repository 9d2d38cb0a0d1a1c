/**
 * The one per-peer upgrade state machine: a relayed connection → punch attempts over
 * the available strategies (TCP DCUtR, the UDP path) → direct, or failed with a reason
 * per strategy, a backoff, and one attempt log (iroh keeps one state per remote the same
 * way: iroh/src/socket/remote_map/remote_state.rs).
 *
 * The strategies are raced: each starts after its own head start (`delayMs`: the UDP
 * path gives TCP a few seconds), the first direct connection wins and aborts the others.
 * The protocol exchanges stay in their modules (src/holepunch, src/udppunch); their
 * state (in progress, backoff, last failure, records) lives here only.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection } from '@libp2p/interface'

export type UpgradeStrategyName = 'tcp' | 'udx' | 'webrtc'

export interface UpgradeStrategy {
  name: UpgradeStrategyName
  /** why this strategy cannot upgrade this connection (undefined: it can) */
  applicable(relayed: Connection): string | undefined
  /** a direct connection to the relayed connection's peer, or a rejection with the reason */
  attempt(relayed: Connection, signal: AbortSignal): Promise<{ connection: Connection, record: Record<string, unknown> }>
  /** head start the other strategies get: this one starts this long after the upgrade began */
  delayMs?: number
}

export type UpgradeState = 'upgrading' | 'direct' | 'failed'

/** One strategy's try, newest last in `UpgradeMachine.attempts()`. */
export interface UpgradeAttempt {
  peer: string
  strategy: UpgradeStrategyName
  startedAt: string
  durationMs: number
  outcome: 'direct' | 'failed' | 'aborted'
  /** the error's first line, or the address of the direct connection */
  detail: string
  /** what the strategy reported (its own fields: role, rttMs, handshake, …) */
  record: Record<string, unknown>
}

export interface UpgradeResult {
  peer: string
  outcome: 'direct' | 'failed' | 'aborted' | 'backoff' | 'not-applicable'
  connection?: Connection
  /** the winning strategy */
  strategy?: UpgradeStrategyName
  /** one line: why there is no direct connection */
  reason?: string
}

export interface PeerUpgrade {
  peer: string
  state: UpgradeState
  /** per strategy, the reason it did not give a direct connection (not applicable, failed) */
  reasons: Partial<Record<UpgradeStrategyName, string>>
  /** the strategies that ran and failed, with their reason (a subset of `reasons`) */
  failures: Partial<Record<UpgradeStrategyName, string>>
  /** ISO time before which no new upgrade is started (after a failure) */
  backoffUntil: string | null
}

export interface UpgradeEvents {
  'upgrade:attempt': CustomEvent<UpgradeAttempt>
  'upgrade:direct': CustomEvent<UpgradeResult>
  'upgrade:failed': CustomEvent<UpgradeResult>
}

export interface UpgradeMachineInit {
  strategies: UpgradeStrategy[]
  /** after every strategy failed, the peer is not tried again before this (default FAILED_PEER_BACKOFF_MS) */
  backoffMs?: number
  /** what `whyRelayed` says when no strategy is configured at all */
  offReason?: string
}

/**
 * A failed peer is not tried again (nor answered by the TCP punch) before this: no busy
 * retry loop. The TCP punch's 10 min is the longer of the two backoffs the strategies
 * kept before (the UDP path's was 5 min), so neither is retried sooner than it was.
 */
export const FAILED_PEER_BACKOFF_MS = 10 * 60_000

/** Attempt records kept, all peers and strategies together: the TCP punch kept 64 and the UDP path 50 before. */
export const MAX_ATTEMPT_RECORDS = 128

/** Peers whose state is kept (oldest forgotten first): the TCP punch's MAX_TRACKED_PEERS. */
export const MAX_TRACKED_PEERS = 1024

/** The abort reason when the relayed connection the strategies ran over closed (the upgrade is started again over another one). */
export const RELAYED_CLOSED = 'the relayed connection closed'

/** The abort reason when a direct connection to the peer opened while strategies ran. */
const DIRECT_OPENED = new Error('a direct connection opened meanwhile')

interface PeerEntry {
  state: UpgradeState
  /** strategies inside attempt() right now */
  active?: Set<UpgradeStrategyName>
  reasons: Partial<Record<UpgradeStrategyName, string>>
  failures?: Partial<Record<UpgradeStrategyName, string>>
  backoffUntil: number
  running?: { controller: AbortController, done: Promise<UpgradeResult> }
}

export class UpgradeMachine extends TypedEventEmitter<UpgradeEvents> {
  private readonly strategies: UpgradeStrategy[]
  private readonly backoffMs: number
  private readonly offReason: string
  private readonly peers = new Map<string, PeerEntry>()
  private readonly records: UpgradeAttempt[] = []

  constructor (init: UpgradeMachineInit) {
    super()
    this.strategies = [...init.strategies]
    this.backoffMs = init.backoffMs ?? FAILED_PEER_BACKOFF_MS
    this.offReason = init.offReason ?? 'no upgrade strategy is on (holePunch and udpPunch are off)'
  }

  /** Adds a strategy (the UDX transport plugs in here); it takes part in upgrades started after. */
  addStrategy (strategy: UpgradeStrategy): void {
    if (this.strategies.some(s => s.name === strategy.name)) throw new Error(`ERR_DUPLICATE_STRATEGY: a '${strategy.name}' strategy is registered already; register each once`)
    this.strategies.push(strategy)
  }

  get strategyNames (): UpgradeStrategyName[] {
    return this.strategies.map(s => s.name)
  }

  /**
   * Upgrades a relayed connection: joins an upgrade of the same peer under way, else races
   * the applicable strategies that are not backed off (all backed off: refused). The race
   * stops, failing nothing, when `relayed` closes (outcome 'aborted', reason RELAYED_CLOSED).
   */
  async upgrade (relayed: Connection): Promise<UpgradeResult> {
    const peer = relayed.remotePeer.toString()
    const entry = this.peers.get(peer)
    if (entry?.running != null) return entry.running.done
    // a strategy that failed with this peer is backed off; the others may still run (the
    // TCP punch the peer drove failed, but the UDX punch never got a live connection)
    const backedOff = entry != null && entry.backoffUntil > Date.now() ? entry.failures ?? {} : {}
    const reasons: Partial<Record<UpgradeStrategyName, string>> = {}
    const runnable: UpgradeStrategy[] = []
    for (const s of this.strategies) {
      let why: string | undefined
      try {
        why = backedOff[s.name] ?? s.applicable(relayed)
      } catch (err) {
        why = `cannot tell: ${firstLine(err)}`
      }
      if (why == null) runnable.push(s)
      else reasons[s.name] = why
    }
    if (runnable.length === 0 && entry != null && Object.keys(backedOff).length > 0) {
      return { peer, outcome: 'backoff', reason: this.failureLine(entry) }
    }
    const next: PeerEntry = { state: 'upgrading', reasons, failures: { ...backedOff }, backoffUntil: entry?.backoffUntil ?? 0 }
    this.remember(peer, next)
    if (runnable.length === 0) {
      next.state = 'failed'
      const result: UpgradeResult = { peer, outcome: 'not-applicable', reason: this.failureLine(next) }
      this.safeDispatchEvent('upgrade:failed', { detail: result })
      return result
    }
    const controller = new AbortController()
    const done = this.race(peer, relayed, runnable, next, controller)
    next.running = { controller, done }
    return done
  }

  /** The peer went away (its last connection closed): attempts stop, and no backoff is kept. */
  peerDisconnected (peer: string): void {
    const entry = this.peers.get(peer)
    if (entry == null) return
    entry.running?.controller.abort(new Error('the peer disconnected'))
    if (entry.running == null) this.peers.delete(peer)
  }

  /** A direct connection came some other way (the peer dialled us, a LAN address): no upgrade needed. */
  directConnected (peer: string): void {
    const entry = this.peers.get(peer)
    if (entry?.running != null) {
      // a strategy's own connection opens before its attempt returns: it still counts as its win
      entry.state = 'direct'
      entry.reasons = {}
      entry.failures = {}
      entry.running.controller.abort(DIRECT_OPENED)
      return
    }
    this.remember(peer, { state: 'direct', reasons: {}, backoffUntil: 0 })
  }

  /**
   * One try inside a strategy's protocol (a DCUtR exchange, a WebRTC dial), ours or one
   * the peer drove while we answered: logged at once with `record.try` holding the
   * protocol's own record (`triesOf` reads them back).
   */
  logTry (peer: string, strategy: UpgradeStrategyName, started: number, outcome: 'direct' | 'failed', detail: string, rec: object): void {
    this.log(peer, strategy, started, outcome, detail, { try: rec })
  }

  /** The protocol gave up on a peer it answered: failed with the reason, backed off. */
  peerFailed (peer: string, strategy: UpgradeStrategyName, reason: string): void {
    const entry = this.peers.get(peer) ?? { state: 'failed' as const, reasons: {}, backoffUntil: 0 }
    entry.reasons[strategy] = reason
    entry.failures = { ...entry.failures, [strategy]: reason }
    entry.backoffUntil = Date.now() + this.backoffMs
    if (entry.running == null) entry.state = 'failed'
    this.remember(peer, entry)
  }

  /** Whether `peer` is backed off after a failure (of `strategy`, when given). */
  backedOff (peer: string, strategy?: UpgradeStrategyName): boolean {
    const entry = this.peers.get(peer)
    if (entry == null || entry.backoffUntil <= Date.now()) return false
    return strategy == null || entry.failures?.[strategy] != null
  }

  /** Whether `strategy` is attempting an upgrade with `peer` right now. */
  attempting (peer: string, strategy: UpgradeStrategyName): boolean {
    return this.peers.get(peer)?.active?.has(strategy) === true
  }

  /** Aborts every upgrade under way (node stop). */
  stop (): void {
    for (const entry of this.peers.values()) entry.running?.controller.abort(new Error('the node is stopping'))
  }

  /** Why `peer` has no direct connection, in one line (undefined: it has one). */
  whyRelayed (peer: string): string | undefined {
    if (this.strategies.length === 0) return this.offReason
    const entry = this.peers.get(peer)
    if (entry == null) return 'hole punch not started yet (the peer that received the relayed connection starts it)'
    if (entry.state === 'direct') return undefined
    if (entry.state === 'upgrading') {
      const skipped = Object.keys(entry.reasons).length > 0 ? `; ${this.reasonList(entry)}` : ''
      return `hole punch in progress (${this.strategies.filter(s => entry.reasons[s.name] == null).map(s => s.name).join(', ')})${skipped}`
    }
    return this.failureLine(entry)
  }

  peer (peer: string): PeerUpgrade | undefined {
    const entry = this.peers.get(peer)
    if (entry == null) return undefined
    return { peer, state: entry.state, reasons: { ...entry.reasons }, failures: { ...entry.failures }, backoffUntil: entry.backoffUntil > 0 ? new Date(entry.backoffUntil).toISOString() : null }
  }

  /** The attempt log, all strategies, newest last (`strategy` given: that one's only). */
  attempts (strategy?: UpgradeStrategyName): UpgradeAttempt[] {
    return this.records.filter(r => strategy == null || r.strategy === strategy)
  }

  status (): { strategies: UpgradeStrategyName[], peers: PeerUpgrade[], attempts: UpgradeAttempt[] } {
    return {
      strategies: this.strategyNames,
      peers: [...this.peers.keys()].map(p => this.peer(p)).filter((p): p is PeerUpgrade => p != null),
      attempts: this.attempts()
    }
  }

  private async race (peer: string, relayed: Connection, runnable: UpgradeStrategy[], entry: PeerEntry, controller: AbortController): Promise<UpgradeResult> {
    const signal = controller.signal
    let failedOne = false
    // the connection the strategies talk over went away (the connection manager dropped it as
    // a duplicate of another relayed connection, or the relay did): nothing failed, stop here
    const onClose = (): void => { if (!signal.aborted) controller.abort(new Error(RELAYED_CLOSED)) }
    relayed.addEventListener?.('close', onClose, { once: true })
    if (relayed.status != null && relayed.status !== 'open') onClose()
    try {
      const winner = await Promise.any(runnable.map(async (s) => {
        if ((s.delayMs ?? 0) > 0) await abortableSleep(s.delayMs ?? 0, signal)
        if (signal.aborted) throw signal.reason
        const started = Date.now()
        entry.active = new Set([...(entry.active ?? []), s.name])
        try {
          const { connection, record } = await s.attempt(relayed, signal)
          if (signal.aborted && signal.reason !== DIRECT_OPENED) {
            // lost the race by a hair: the winner's connection is the one kept
            this.log(peer, s.name, started, 'aborted', 'another strategy won first', record)
            throw signal.reason
          }
          controller.abort(new Error(`${s.name} gave a direct connection first`))
          this.log(peer, s.name, started, 'direct', connection.remoteAddr.toString(), record)
          return { strategy: s.name, connection }
        } catch (err) {
          if (signal.aborted) {
            this.log(peer, s.name, started, 'aborted', firstLine(signal.reason), recordOf(err))
          } else if (err instanceof UpgradeAttemptError && err.quiet) {
            this.log(peer, s.name, started, 'aborted', firstLine(err), err.record)
          } else {
            failedOne = true
            entry.reasons[s.name] = firstLine(err)
            entry.failures = { ...entry.failures, [s.name]: firstLine(err) }
            this.log(peer, s.name, started, 'failed', firstLine(err), recordOf(err))
          }
          throw err
        } finally {
          entry.active?.delete(s.name)
        }
      }))
      entry.state = 'direct'
      entry.reasons = {}
      entry.failures = {}
      const result: UpgradeResult = { peer, outcome: 'direct', connection: winner.connection, strategy: winner.strategy }
      this.safeDispatchEvent('upgrade:direct', { detail: result })
      return result
    } catch (err) {
      if (signal.aborted || !failedOne) {
        // the peer left or the node stops: nothing failed, nothing to back off from
        const reason = firstLine(signal.aborted ? signal.reason : (err as AggregateError).errors?.[0] ?? err)
        if (this.peers.get(peer) === entry && entry.state !== 'direct') this.peers.delete(peer)
        return { peer, outcome: 'aborted', reason }
      }
      entry.state = 'failed'
      entry.backoffUntil = Date.now() + this.backoffMs
      const result: UpgradeResult = { peer, outcome: 'failed', reason: this.failureLine(entry) }
      this.safeDispatchEvent('upgrade:failed', { detail: result })
      return result
    } finally {
      entry.running = undefined
      relayed.removeEventListener?.('close', onClose)
    }
  }

  private failureLine (entry: PeerEntry): string {
    return `no direct connection: ${this.reasonList(entry)}`
  }

  private reasonList (entry: PeerEntry): string {
    return this.strategies.filter(s => entry.reasons[s.name] != null).map(s => `${s.name}: ${entry.reasons[s.name] ?? ''}`).join('; ')
  }

  private log (peer: string, strategy: UpgradeStrategyName, started: number, outcome: UpgradeAttempt['outcome'], detail: string, record: Record<string, unknown>): void {
    const rec: UpgradeAttempt = { peer, strategy, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, outcome, detail, record }
    this.records.push(rec)
    if (this.records.length > MAX_ATTEMPT_RECORDS) this.records.shift()
    this.safeDispatchEvent('upgrade:attempt', { detail: rec })
  }

  /** Keeps one entry per peer, bounded: the oldest idle entry is forgotten first. */
  private remember (peer: string, entry: PeerEntry): void {
    this.peers.delete(peer)
    this.peers.set(peer, entry)
    if (this.peers.size <= MAX_TRACKED_PEERS) return
    for (const [id, e] of this.peers) {
      if (this.peers.size <= MAX_TRACKED_PEERS) break
      if (e.running == null) this.peers.delete(id)
    }
  }
}

/** The protocol records of the tries `strategy` logged (UpgradeMachine.logTry), newest last. */
export function triesOf<T> (attempts: UpgradeAttempt[], strategy: UpgradeStrategyName): T[] {
  return attempts.filter(a => a.strategy === strategy && a.record.try != null).map(a => a.record.try as T)
}

/**
 * A strategy may reject with an error carrying `record` (its own fields for the attempt
 * log). `quiet`: nothing failed (the peer took the exchange over, the connection closed):
 * logged as aborted, no backoff.
 */
export class UpgradeAttemptError extends Error {
  readonly record: Record<string, unknown>
  readonly quiet: boolean
  constructor (message: string, record: Record<string, unknown> = {}, options: { quiet?: boolean } = {}) {
    super(message)
    this.name = 'UpgradeAttemptError'
    this.record = record
    this.quiet = options.quiet === true
  }
}

function recordOf (err: unknown): Record<string, unknown> {
  return err instanceof UpgradeAttemptError ? err.record : {}
}

function firstLine (err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split('\n')[0] ?? msg
}

async function abortableSleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
