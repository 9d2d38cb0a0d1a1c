/**
 * Gateway epochs: NAT-PMP's "seconds since start of epoch" and PCP's "epoch time" both count
 * up from the gateway's (re)start; a value lower than expected means the gateway lost its
 * mapping state (a reboot), and every mapping must be made again.
 */

export interface EpochSample {
  /** the server's epoch seconds */
  server: number
  /** our clock (ms) when the answer arrived */
  clientMs: number
}

/**
 * PCP's rule, RFC 6887 §8.5: state is lost if the epoch went back by more than 1 s, or if the
 * server's and the client's elapsed times disagree by more than 2 s plus 1/16.
 */
export function pcpEpochLost (prev: EpochSample, cur: EpochSample): boolean {
  if (cur.server < prev.server - 1) return true
  const clientDelta = (cur.clientMs - prev.clientMs) / 1000
  const serverDelta = cur.server - prev.server
  return clientDelta + 2 < serverDelta - serverDelta / 16 ||
    serverDelta + 2 < clientDelta - clientDelta / 16
}

/**
 * NAT-PMP's rule, RFC 6886 §3.6: the client's conservative estimate of the epoch is the last
 * value plus 7/8 of the time elapsed; an answer more than 2 s below it means a reboot.
 */
export function natPmpEpochLost (prev: EpochSample, cur: EpochSample): boolean {
  const elapsed = (cur.clientMs - prev.clientMs) / 1000
  const estimate = prev.server + elapsed * 7 / 8
  return cur.server < estimate - 2
}

/** Keeps the last sample and applies a rule to each new one. */
export class EpochTracker {
  private last: EpochSample | undefined
  private readonly lost: (prev: EpochSample, cur: EpochSample) => boolean

  constructor (rule: (prev: EpochSample, cur: EpochSample) => boolean) {
    this.lost = rule
  }

  /** Records an answer's epoch; true when it reveals lost state (never for the first answer). */
  observe (server: number, clientMs = Date.now()): boolean {
    const cur = { server, clientMs }
    const prev = this.last
    this.last = cur
    return prev !== undefined && this.lost(prev, cur)
  }
}
