/**
 * Issue 15, "never wait for a path that cannot work": `burrow dial PEERID` races the peer's own
 * addresses against its relay circuit (happy eyeballs). A is behind a symmetric NAT with a
 * relay reservation; B (cone) dials it by PeerId, and B's own firewall silently drops TCP to
 * A's LAN address (a SYN that never gets an answer, as to a NAT that drops it). The dial must
 * return the relayed connection while that direct TCP attempt is still under way, not after it
 * timed out, and messages flow over the relay at once.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason, jsonLines } from '../lab/helpers.ts'
import { startPeer, waitReachableByPeerId, send, debugEnv } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'

const skip = skipReason()

/** `host`'s firewall silently drops its TCP to `ip`:4001 (a SYN that never gets an answer). */
async function dropTcpTo (host: { exec: (cmd: string, args: string[]) => Promise<unknown> }, ip: string): Promise<void> {
  await host.exec('nft', ['add', 'table', 'inet', 'dialrace'])
  await host.exec('nft', ['add', 'chain', 'inet', 'dialrace', 'out', '{ type filter hook output priority 0; policy accept; }'])
  await host.exec('nft', ['add', 'rule', 'inet', 'dialrace', 'out', 'ip', 'daddr', ip, 'tcp', 'dport', '4001', 'drop'])
}

interface DialJson { peerId: string, remoteAddress: string, direct: boolean, directAttempt?: string, durationMs: number }

describe('dial by PeerId races the direct and relayed paths', { skip }, () => {
  let lab: Lab
  let relay: LabNode

  before(async () => {
    lab = await Lab.create({ name: 'dial-race' })
    relay = await startBurrow(lab, await lab.addPublicHost('relay'), { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
  })
  after(async () => { await lab?.teardown() })

  it('cone × symmetric: the relayed connection returns while the direct TCP attempt is still unanswered', async () => {
    const ha = await lab.addHome('sym', { nat: 'symmetric' })
    const hb = await lab.addHome('cone', { nat: 'cone' })
    const hostA = ha.hosts[0]!
    const hostB = hb.hosts[0]!
    const a = await startPeer(lab, hostA, [relay.multiaddr], 'sym-a')
    // B dials private addresses, so A's LAN address is a direct candidate it tries
    const b = await startPeer(lab, hostB, [relay.multiaddr], 'cone-b', ['--dial-private-addresses', 'on'])
    try {
      await waitReachableByPeerId(a)
      await b.waitForStatus(s => s.connections.length > 0, 30_000, 'a connection to the relay')
      // B's firewall drops every TCP packet to A's LAN address: that direct attempt never answers
      await dropTcpTo(hostB, hostA.ip)

      const dial = await b.cliJson<DialJson>(['dial', a.peerId], { timeoutMs: 60_000 })
      assert.equal(dial.peerId, a.peerId)
      assert.equal(dial.direct, false, `a relayed connection, got ${dial.remoteAddress}`)
      assert.match(dial.remoteAddress, /\/p2p-circuit\//)
      // the order of events: the result came while the direct attempt had neither connected nor failed
      assert.equal(dial.directAttempt, 'pending', 'the relayed connection returned before the direct TCP attempt ended')

      // the first message goes over the relay now, and it arrives
      assert.equal((await send(b, a.peerId, 'over the relay at once')).via, 'relayed')
      const inbox = (await a.cli(['inbox', '--json'])).stdout.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { text: string })
      assert.deepEqual(inbox.map(m => m.text), ['over the relay at once'])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('a peer known only by LAN addresses we would not dial is looked up, not given up on', async () => {
    // A is private with a reservation and its rendezvous record; B holds only A's LAN address
    // (as after a DHT server told B of A while A served the DHT for a moment at its start:
    // 1 in ~20 trials of the udp-path benchmark). B's dial by PeerId used to stop there:
    // "every address known for it is private, loopback or link-local"
    const ha = await lab.addHome('stale-a', { nat: 'cone' })
    const hb = await lab.addHome('stale-b', { nat: 'cone' })
    const a = await startPeer(lab, ha.hosts[0]!, [relay.multiaddr], 'stale-a')
    try {
      await waitReachableByPeerId(a)
      const home = mkdtempSync(join(lab.runDir, 'stale-b-'))
      const script = join(import.meta.dirname, 'fixtures', 'dial-stale.ts')
      const proc = await hb.hosts[0]!.spawn(process.execPath, [script, home, relay.multiaddr, a.peerId, `/ip4/${ha.hosts[0]!.ip}/tcp/4001`], { logName: 'stale-b', env: { ...process.env, ...debugEnv() } })
      await proc.waitForOutput(/^\{.*\}$/m, 90_000)
      const [res] = jsonLines(proc.recentOutput) as Array<{ ok?: boolean, remoteAddress?: string, error?: string }>
      assert.equal(res?.error, undefined, `B's dial failed: ${String(res?.error)} (log ${proc.logFile})`)
      assert.equal(res?.ok, true)
      assert.match(res?.remoteAddress ?? '', /\/p2p-circuit\//, 'B reached A through the relay circuit it looked up')
    } finally {
      await a.stop()
    }
  })

  it('a peer known only by an address that never answers is looked up beside that dial, not after it timed out', async () => {
    // B holds only A's LAN address, dials private addresses, and its firewall drops TCP to
    // that address: a dial on it waits for libp2p's 6 s address timeout. B's dial by PeerId
    // gets 5 s, as a user's `--timeout` would: it must look A up beside the dead dial and
    // reach A over the circuit the lookup brings. It used to look A up only once that dial
    // had failed, so the 5 s ran out first
    const ha = await lab.addHome('dead-a', { nat: 'cone' })
    const hb = await lab.addHome('dead-b', { nat: 'cone' })
    const hostA = ha.hosts[0]!
    const hostB = hb.hosts[0]!
    const a = await startPeer(lab, hostA, [relay.multiaddr], 'dead-a')
    try {
      await waitReachableByPeerId(a)
      await dropTcpTo(hostB, hostA.ip)
      const home = mkdtempSync(join(lab.runDir, 'dead-b-'))
      const script = join(import.meta.dirname, 'fixtures', 'dial-stale.ts')
      const proc = await hostB.spawn(process.execPath, [script, home, relay.multiaddr, a.peerId, `/ip4/${hostA.ip}/tcp/4001`, '5000'], { logName: 'dead-b', env: { ...process.env, ...debugEnv() } })
      await proc.waitForOutput(/^\{.*\}$/m, 90_000)
      const [res] = jsonLines(proc.recentOutput) as Array<{ ok?: boolean, remoteAddress?: string, direct?: boolean, error?: string }>
      assert.equal(res?.error, undefined, `B's dial failed: ${String(res?.error)} (log ${proc.logFile})`)
      assert.equal(res?.ok, true)
      assert.match(res?.remoteAddress ?? '', /\/p2p-circuit\//, 'B reached A through the relay circuit it looked up')
    } finally {
      await a.stop()
    }
  })
})
