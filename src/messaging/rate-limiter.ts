/**
 * A token bucket per peer: each peer may take `ratePerSecond` tokens a second, with up to
 * `burst` saved up. A peer that floods only empties its own bucket.
 */
export class PeerRateLimiter {
  private readonly ratePerMs: number
  private readonly burst: number
  private readonly buckets = new Map<string, { tokens: number, updatedAt: number }>()
  /** Above this many tracked peers, buckets that have refilled completely are dropped. */
  private readonly maxTracked: number

  constructor (ratePerSecond: number, burst: number, maxTracked = 10_000) {
    this.ratePerMs = ratePerSecond / 1000
    this.burst = Math.max(1, burst)
    this.maxTracked = maxTracked
  }

  /** Takes one token for `peer`; false when its bucket is empty. */
  tryTake (peer: string, now = Date.now()): boolean {
    let bucket = this.buckets.get(peer)
    if (bucket == null) {
      this.prune(now)
      bucket = { tokens: this.burst, updatedAt: now }
      this.buckets.set(peer, bucket)
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs)
    bucket.updatedAt = now
    if (bucket.tokens < 1) {
      return false
    }
    bucket.tokens -= 1
    return true
  }

  clear (): void {
    this.buckets.clear()
  }

  private prune (now: number): void {
    if (this.buckets.size < this.maxTracked) {
      return
    }
    for (const [peer, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs >= this.burst) {
        this.buckets.delete(peer)
      }
    }
  }
}
