/**
 * Issue 11, acceptance 2: the event stream tells a cone × cone upgrade in order — peer
 * connected via relayed, hole punch started, upgraded to direct — both through
 * `burrow events --json` (a child process on the dialling side, started before the dial)
 * and on the library's createNode() object (the other side is a library node).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, startBurrow, burrowCliPath } from '../../lab/dist/index.js'
import type { LabProcess } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { startPeer, debugEnv } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'

const skip = skipReason()
const LIBRARY_PEER = join(dirname(fileURLToPath(import.meta.url)), 'library-peer.ts')

interface Ev { seq: number, time: string, type: string, data: Record<string, unknown> }

function eventsOf (proc: LabProcess): Ev[] {
  return proc.recentOutput.split('\n').filter(l => l.startsWith('{"seq"')).map(l => JSON.parse(l) as Ev)
}

/** Index of the first event matching, or -1. */
function indexOf (events: Ev[], type: string, pred: (d: Record<string, unknown>) => boolean = () => true): number {
  return events.findIndex(e => e.type === type && pred(e.data))
}

/** The story: relayed connection to `peer`, then a punch with it started, then direct. */
function assertStory (events: Ev[], peer: string, who: string): void {
  const relayed = indexOf(events, 'connection:opened', d => d.peer === peer && d.path === 'relayed')
  const started = indexOf(events, 'holepunch:started', d => d.peer === peer)
  const direct = indexOf(events, 'holepunch:direct', d => d.peer === peer)
  const shown = JSON.stringify(events.map(e => `${e.type} ${String(e.data.peer ?? '')} ${String(e.data.path ?? '')}`))
  assert.ok(relayed >= 0, `${who}: a 'connection:opened' via relayed with the peer: ${shown}`)
  assert.ok(started > relayed, `${who}: 'holepunch:started' after the relayed connection: ${shown}`)
  assert.ok(direct > started, `${who}: 'holepunch:direct' after the punch started: ${shown}`)
  for (const e of events) {
    assert.ok(!Number.isNaN(Date.parse(e.time)) && e.time === new Date(e.time).toISOString(), `${who}: ISO 8601 time on ${e.type}`)
  }
  for (let i = 1; i < events.length; i++) assert.ok((events[i]?.seq ?? 0) > (events[i - 1]?.seq ?? 0), `${who}: seq grows`)
}

describe('event stream: cone × cone, relayed then direct', { skip }, () => {
  let lab: Lab
  let relay: LabNode

  before(async () => {
    lab = await Lab.create({ name: 'events-cone' })
    const relayHost = await lab.addPublicHost('relay')
    relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
  })
  after(async () => { await lab?.teardown() })

  it('burrow events --json on the dialling side and the library node on the other tell relayed → punch started → direct', async () => {
    const started = Date.now()
    const homeA = await lab.addHome('a', { nat: 'cone' })
    const homeB = await lab.addHome('b', { nat: 'cone' })
    // A: a library node (createNode), its events printed as JSON lines
    const aHome = mkdtempSync(join(lab.runDir, 'a-lib-'))
    const a = await homeA.hosts[0]!.spawn(process.execPath, [LIBRARY_PEER, aHome, relay.multiaddr], { logName: 'a-library', env: { ...process.env, ...debugEnv() } })
    const aPeerId = JSON.parse((await a.waitForOutput(/\{"ready":"[^"]+"\}/, 30_000))[0]).ready as string
    await a.waitForOutput(/"type":"reservation:created"/, 30_000)

    const b = await startPeer(lab, homeB.hosts[0]!, [relay.multiaddr], 'b')
    // B's stream, started before the dial; the CLI says on stderr once it is subscribed
    const events = await lab.spawn(homeB.hosts[0]!, process.execPath, [burrowCliPath(), '--home', b.home, 'events', '--json'], { logName: 'b-events' })
    try {
      await events.waitForOutput(/following events/, 15_000)
      const dialled = await b.cliJson<{ direct: boolean }>(['dial', `${relay.multiaddr}/p2p-circuit/p2p/${aPeerId}`], { timeoutMs: 60_000 })
      assert.equal(dialled.direct, false, 'the first connection to A runs through the relay')
      await events.waitForOutput(/"type":"holepunch:direct"/, 30_000)
      await a.waitForOutput(/"type":"holepunch:direct"/, 30_000)

      assertStory(eventsOf(events), aPeerId, 'burrow events --json (B)')
      assertStory(eventsOf(a), b.peerId, 'createNode() (A)')
      // A saw the same upgrade: an inbound relayed connection from B
      const aRelayed = eventsOf(a).find(e => e.type === 'connection:opened' && e.data.peer === b.peerId && e.data.path === 'relayed')
      assert.equal(aRelayed?.data.direction, 'inbound')
      // a plain `burrow daemon` tells its story: one timestamped line per important event
      await b.process.waitForOutput(/^\d{4}-\d\d-\d\dT[\d:.]+Z upgraded to direct: /m, 10_000)
      assert.match(b.process.recentOutput, /^\d{4}-\d\d-\d\dT[\d:.]+Z reachability: private /m, 'B\'s daemon printed its reachability')
      assert.doesNotMatch(b.process.recentOutput, /^\S+Z hole punch tcp attempt/m, 'the daemon prints important events only (burrow events has them all)')
      console.log(`# relayed → direct told on both sides in ${Date.now() - started} ms (lab setup included)`)
    } finally {
      await events.stop()
      await b.stop()
      await a.stop()
    }
  })
})
