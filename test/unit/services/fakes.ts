// Fake components for starting one service on its own: a reachability source whose
// verdict a test sets, and libp2p's default component logger.
import { TypedEventEmitter } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import type { ReachabilitySource, ReachabilityState } from '../../../dist/nat/index.js'

export const logger = defaultLogger()

export class FakeReachability extends TypedEventEmitter<{ 'reachability:changed': CustomEvent<ReachabilityState> }> implements ReachabilitySource {
  current: ReachabilityState = { reachability: 'unknown', source: 'none', reason: 'not known yet', behindNat: undefined, mapping: 'unknown' }

  set (reachability: ReachabilityState['reachability']): void {
    this.current = { ...this.current, reachability }
    this.safeDispatchEvent('reachability:changed', { detail: this.current })
  }
}

export async function until (what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting: ${what}`)
}
