/**
 * Counting for the relay's fairness caps (DESIGN.md, Security rules): what one IP
 * address — IPv6: one /64, the smallest block a home or a cloud VM gets — may hold.
 * Pure bookkeeping; src/relay/server.ts applies it to the hop protocol.
 */
import { isCircuitAddress } from '../connections/index.js'

/**
 * The key a remote address is counted under: the IPv4 address, or the /64 of an IPv6
 * address (an IPv4-mapped IPv6 address counts as its IPv4 address). Undefined for
 * relayed (`/p2p-circuit`) and non-IP addresses.
 */
export function ipKey (addr: string): string | undefined {
  if (isCircuitAddress(addr)) return undefined
  const m = /^\/ip([46])\/([^/]+)/.exec(addr)
  if (m?.[2] == null) return undefined
  if (m[1] === '4') return m[2]
  const groups = ipv6Groups(m[2])
  if (groups == null) return undefined
  // ::ffff:a.b.c.d is an IPv4 host seen over a dual-stack socket
  if (groups.slice(0, 5).every(g => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return groups.slice(0, 4).map(g => g.toString(16)).join(':') + '::/64'
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups (text: string): number[] | undefined {
  let s = text.split('%')[0] ?? ''
  // a dotted IPv4 tail (::ffff:1.2.3.4) is the last two groups written another way
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (v4 != null) {
    const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = v4.slice(2, 6).map(Number)
    if ([b0, b1, b2, b3].some(x => x > 255)) return undefined
    s = `${v4[1] ?? ''}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string | undefined): number[] | undefined => {
    if (part == null || part === '') return []
    const out: number[] = []
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      out.push(parseInt(g, 16))
    }
    return out
  }
  const head = parse(halves[0])
  const rest = parse(halves[1])
  if (head == null || rest == null) return undefined
  if (halves.length === 1) return head.length === 8 ? head : undefined
  if (head.length + rest.length > 7) return undefined
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
}

/** Counts per key (open circuits per peer, per IP); a key at zero is forgotten. */
export class Tally {
  private readonly counts = new Map<string, number>()

  get (key: string): number {
    return this.counts.get(key) ?? 0
  }

  add (key: string, n: number): void {
    const v = this.get(key) + n
    if (v <= 0) this.counts.delete(key)
    else this.counts.set(key, v)
  }

  get size (): number {
    return this.counts.size
  }
}

/** The part of the stock relay's reservation the ledger needs: its expiry signal. */
export interface ExpiringReservation {
  signal: AbortSignal
}

export interface ReservationLedgerInit {
  /** reservations the connected peers of one key (IPv4 address, IPv6 /64) hold at once */
  maxPerIp: number
  /** new reservations one key gets per hour: a budget of this size, refilled evenly over an hour */
  perIpPerHour: number
  /** reservations kept for holders that left, to hand back if they return; the oldest goes first */
  maxLeft?: number
  /** keys whose hourly budget is remembered; beyond it, refilled budgets are forgotten first, then the oldest */
  maxKeys?: number
  now?: () => number
}

/** Why a reservation request was refused: the key holds `maxPerIp`, or spent its hourly budget. */
export type LedgerRefusal = 'per-ip' | 'per-hour'

interface Held<R> {
  key: string
  /** the stock store's reservation once granted; undefined while the request is handled */
  reservation?: R
  /** the holder's last connection closed: no longer counted, kept to hand back */
  left: boolean
}

const HOUR_MS = 3_600_000

/**
 * Reservations per IP (IPv6: per /64). A reservation counts for its IP from the moment
 * it is asked for until it expires or its holder leaves (circuit-v2: it is no longer
 * valid once the peer disconnects), so one address holds at most `maxPerIp` at once.
 * Identities are free, so each new one also spends one of the address's
 * `perIpPerHour`: fresh identities that reserve and leave cannot churn through the
 * relay. A refresh by a connected holder is never refused and costs nothing. A peer
 * holds at most one reservation (the stock store is keyed by peer).
 */
export class ReservationLedger<R extends ExpiringReservation> {
  private readonly init: Required<ReservationLedgerInit>
  private readonly byPeer = new Map<string, Held<R>>()
  private readonly perIp = new Tally()
  /** holders that left, oldest first */
  private readonly left = new Set<string>()
  private readonly budgets = new Map<string, { tokens: number, at: number }>()

  constructor (init: ReservationLedgerInit) {
    this.init = { maxLeft: Infinity, maxKeys: Infinity, now: Date.now, ...init }
  }

  /**
   * Before a reservation request is handled: undefined when `peer`, asking from `key`,
   * may have one, else why not. When it may, it counts from now on (so concurrent
   * requests from one address cannot all pass); call `settle` once it was handled.
   */
  admit (peer: string, key: string): LedgerRefusal | undefined {
    const held = this.byPeer.get(peer)
    if (held != null && !held.left && held.key === key) return undefined
    if (this.perIp.get(key) >= this.init.maxPerIp) return 'per-ip'
    if (!this.spend(key)) return 'per-hour'
    if (held != null && !held.left) this.perIp.add(held.key, -1)
    this.left.delete(peer)
    this.byPeer.set(peer, { key, reservation: held?.reservation, left: false })
    this.perIp.add(key, 1)
    return undefined
  }

  /**
   * After the request was handled: `reservation` is what the stock store now holds for
   * the peer (undefined if it refused). It counts until it expires or its holder leaves.
   */
  settle (peer: string, reservation: R | undefined): void {
    const held = this.byPeer.get(peer)
    if (held == null) return
    if (reservation == null || reservation.signal.aborted) {
      if (held.reservation == null || held.reservation.signal.aborted) this.forget(peer, held)
      else this.leave(peer)
      return
    }
    if (held.reservation === reservation) return
    held.reservation = reservation
    reservation.signal.addEventListener('abort', () => {
      const now = this.byPeer.get(peer)
      if (now?.reservation === reservation) this.forget(peer, now)
    }, { once: true })
  }

  /** The holder's last connection closed: its reservation stops counting (it is kept to hand back). */
  leave (peer: string): void {
    const held = this.byPeer.get(peer)
    if (held == null || held.left) return
    held.left = true
    this.perIp.add(held.key, -1)
    this.left.add(peer)
    for (const oldest of this.left) {
      if (this.left.size <= this.init.maxLeft) break
      const h = this.byPeer.get(oldest)
      if (h != null) this.forget(oldest, h)
    }
  }

  /** The reservation granted to `peer` while it has not expired (it may have left the stock store). */
  held (peer: string): R | undefined {
    const r = this.byPeer.get(peer)?.reservation
    return r?.signal.aborted === false ? r : undefined
  }

  /** Reservations one key (an IPv4 address or an IPv6 /64) holds now. */
  count (key: string): number {
    return this.perIp.get(key)
  }

  /** New reservations one key may still get now (its hourly budget). */
  budget (key: string): number {
    return Math.floor(this.refill(key)?.tokens ?? this.init.perIpPerHour)
  }

  /** Peers known, connected or left. */
  get size (): number {
    return this.byPeer.size
  }

  private forget (peer: string, held: Held<R>): void {
    this.byPeer.delete(peer)
    this.left.delete(peer)
    if (!held.left) this.perIp.add(held.key, -1)
  }

  private refill (key: string): { tokens: number, at: number } | undefined {
    const b = this.budgets.get(key)
    if (b == null) return undefined
    const now = this.init.now()
    b.tokens = Math.min(this.init.perIpPerHour, b.tokens + (now - b.at) * this.init.perIpPerHour / HOUR_MS)
    b.at = now
    return b
  }

  private spend (key: string): boolean {
    let b = this.refill(key)
    if (b == null) {
      b = { tokens: this.init.perIpPerHour, at: this.init.now() }
      this.budgets.set(key, b)
      if (this.budgets.size > this.init.maxKeys) this.forgetBudgets(key)
    }
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Keeps at most maxKeys budgets: refilled ones go first, then the oldest (not `keep`). */
  private forgetBudgets (keep: string): void {
    for (const k of [...this.budgets.keys()]) {
      if (k !== keep && (this.refill(k)?.tokens ?? 0) >= this.init.perIpPerHour) this.budgets.delete(k)
    }
    for (const k of this.budgets.keys()) {
      if (this.budgets.size <= this.init.maxKeys) break
      if (k !== keep) this.budgets.delete(k)
    }
  }
}
