/**
 * Counting for the relay's fairness caps (DESIGN.md, Security rules): what one IP
 * address — IPv6: one /64, the smallest block a home or a cloud VM gets — may hold.
 * Pure bookkeeping; src/relay/server.ts applies it to the hop protocol.
 */

/**
 * The key a remote address is counted under: the IPv4 address, or the /64 of an IPv6
 * address (an IPv4-mapped IPv6 address counts as its IPv4 address). Undefined for
 * relayed (`/p2p-circuit`) and non-IP addresses.
 */
export function ipKey (addr: string): string | undefined {
  if (addr.includes('/p2p-circuit')) return undefined
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

interface Held<R> {
  key: string
  /** the stock store's reservation once granted; undefined while the request is handled */
  reservation?: R
}

/**
 * Reservations per IP, counted from the moment one is asked for until it expires —
 * also after its holder disconnected (the relay then drops it from the stock store,
 * as the spec says, but keeps counting it here), so fresh identities from one address
 * cannot churn through the relay. A peer holds at most one reservation (the stock
 * store is keyed by peer); a refresh from the same IP is never refused.
 */
export class ReservationLedger<R extends ExpiringReservation> {
  private readonly maxPerIp: number
  private readonly maxLeft: number
  private readonly byPeer = new Map<string, Held<R>>()
  private readonly perIp = new Tally()
  /** peers whose holder left while their reservation still counts, oldest first */
  private readonly left = new Set<string>()

  /**
   * `maxLeft`: reservations whose holder left that are still counted; beyond it the
   * oldest stops counting early, so addresses without end (IPv6 /64s) cannot grow the
   * ledger without end.
   */
  constructor (maxPerIp: number, maxLeft = Infinity) {
    this.maxPerIp = maxPerIp
    this.maxLeft = maxLeft
  }

  /**
   * Before a reservation request is handled: whether `peer`, asking from `key`, may
   * have one. When it may, it is counted from now on (so concurrent requests from one
   * address cannot all pass); call `settle` once the request was handled.
   */
  admit (peer: string, key: string): boolean {
    const held = this.byPeer.get(peer)
    this.left.delete(peer)
    if (held != null && held.key === key) return true
    if (this.perIp.get(key) >= this.maxPerIp) return false
    if (held != null) this.perIp.add(held.key, -1)
    this.byPeer.set(peer, { key, reservation: held?.reservation })
    this.perIp.add(key, 1)
    return true
  }

  /**
   * After the request was handled: `reservation` is what the stock store now holds for
   * the peer (undefined if it refused). The count ends when the reservation expires.
   */
  settle (peer: string, reservation: R | undefined): void {
    const held = this.byPeer.get(peer)
    if (held == null) return
    if (reservation == null || reservation.signal.aborted) {
      if (held.reservation == null || held.reservation.signal.aborted) this.forget(peer, held)
      return
    }
    if (held.reservation === reservation) return
    held.reservation = reservation
    reservation.signal.addEventListener('abort', () => {
      const now = this.byPeer.get(peer)
      if (now?.reservation === reservation) this.forget(peer, now)
    }, { once: true })
  }

  /** The holder's last connection closed: its reservation still counts until it expires. */
  leave (peer: string): void {
    if (!this.byPeer.has(peer)) return
    this.left.delete(peer)
    this.left.add(peer)
    for (const oldest of this.left) {
      if (this.left.size <= this.maxLeft) break
      const held = this.byPeer.get(oldest)
      if (held != null) this.forget(oldest, held)
    }
  }

  /** The reservation counted for `peer`, while it has not expired (it may have left the stock store). */
  held (peer: string): R | undefined {
    const r = this.byPeer.get(peer)?.reservation
    return r?.signal.aborted === false ? r : undefined
  }

  /** Reservations counted for one key (an IPv4 address or an IPv6 /64). */
  count (key: string): number {
    return this.perIp.get(key)
  }

  /** Peers counted, over all keys. */
  get size (): number {
    return this.byPeer.size
  }

  private forget (peer: string, held: Held<R>): void {
    this.byPeer.delete(peer)
    this.left.delete(peer)
    this.perIp.add(held.key, -1)
  }
}
