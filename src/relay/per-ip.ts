import { ipKey } from './fairness.js'
import type { MultiaddrConnection, TypedEventTarget, Libp2pEvents } from '@libp2p/interface'

/**
 * Counts open connections per remote IP (IPv6: per /64) so a relay can refuse one host that tries
 * to take every slot (DESIGN.md, Security rules: per-IP caps).
 */
export class PerIpLimit {
  private readonly max: number
  private readonly active: () => boolean
  private readonly open = new Map<string, number>()
  /** inbound connections refused since start (burrow_relay_refusals_total{reason="maxPerIp"}) */
  refused = 0

  /** `active`: whether relay service is offered right now; only then does the cap apply */
  constructor (max: number, active: () => boolean = () => true) {
    this.max = max
    this.active = active
  }

  attach (events: TypedEventTarget<Libp2pEvents>): void {
    events.addEventListener('connection:open', (evt) => { this.add(ipKey(evt.detail.remoteAddr.toString()), 1) })
    events.addEventListener('connection:close', (evt) => { this.add(ipKey(evt.detail.remoteAddr.toString()), -1) })
  }

  /** For the connection gater: true when this inbound connection must be refused. */
  deny (maConn: MultiaddrConnection): boolean {
    if (!this.active()) return false
    const ip = ipKey(maConn.remoteAddr.toString())
    const deny = ip != null && (this.open.get(ip) ?? 0) >= this.max
    if (deny) this.refused++
    return deny
  }

  private add (ip: string | undefined, n: number): void {
    if (ip == null) return
    const v = (this.open.get(ip) ?? 0) + n
    if (v <= 0) this.open.delete(ip)
    else this.open.set(ip, v)
  }
}
