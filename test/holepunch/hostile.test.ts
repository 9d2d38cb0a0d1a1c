/**
 * Issue 10, acceptance 2: DCUtR cannot make burrow dial for others. A hostile peer's
 * CONNECT names addresses that reach the victim's own listeners (`0.0.0.0`, `::`,
 * `::ffff:127.0.0.1`, `::1` written long, `127.0.0.1`) and off-subnet RFC 1918 ones:
 * canary listeners in the victim's namespace must see no connection, under every
 * `dialPrivateAddresses` mode. A CONNECT over a direct connection is refused, and a peer
 * that keeps sending CONNECT is backed off after 3 exchanges.
 *
 * Victims are public lab hosts (`21.x` addresses), so every mode can reach the relay; the
 * attacker is spec-peer.ts with the addresses it sends set by hand.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, startBurrow } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'
import { debugEnv, startSpec, statusOf, sleep } from './helpers.ts'
import type { LabNode, Status, Attempt } from './helpers.ts'
import type { LabHost, LabProcess } from '../../lab/dist/index.js'

const skip = skipReason()
const CANARY_PORTS = [7101, 7102, 7103, 7104, 7105]
const HOSTILE = [
  `/ip4/0.0.0.0/tcp/${CANARY_PORTS[0]}`,
  `/ip6/::/tcp/${CANARY_PORTS[1]}`,
  `/ip6/::ffff:127.0.0.1/tcp/${CANARY_PORTS[2]}`,
  `/ip6/0:0:0:0:0:0:0:1/tcp/${CANARY_PORTS[3]}`,
  `/ip4/127.0.0.1/tcp/${CANARY_PORTS[4]}`,
  '/ip4/10.255.0.1/tcp/4001',
  '/ip4/192.168.77.1/tcp/4001'
]

/** Listens on every canary port (dual-stack `::`, so v4, v6 and mapped forms all land) and prints each connection. */
const CANARY = `
const net = require('node:net')
for (const port of ${JSON.stringify(CANARY_PORTS)}) {
  net.createServer(c => { console.log('HIT ' + port + ' from ' + c.remoteAddress); c.destroy() })
    .listen({ port, host: '::', ipv6Only: false }, () => console.log('LISTENING ' + port))
}
`

async function startCanary (host: LabHost): Promise<LabProcess> {
  const proc = await host.spawn(process.execPath, ['-e', CANARY], { logName: `canary-${host.name}` })
  await proc.waitForOutput(new RegExp(`LISTENING ${CANARY_PORTS.at(-1) ?? 0}`), 10_000)
  // the canary answers on the victim's own loopback: prove it before trusting a zero
  const probe = await host.exec(process.execPath, ['-e', `require('node:net').connect(${CANARY_PORTS[0]}, '127.0.0.1').on('connect', function () { this.destroy() })`])
  assert.equal(probe.code, 0)
  await proc.waitForOutput(/HIT /, 5_000)
  return proc
}

function hits (canary: LabProcess): number {
  // the first hit is the probe above
  return Math.max(0, (canary.recentOutput.match(/HIT /g) ?? []).length - 1)
}

describe('DCUtR: no dialling for hostile peers', { skip }, () => {
  let lab: Lab
  let relay: LabNode
  let attackerHost: LabHost

  before(async () => {
    lab = await Lab.create({ name: 'dcutr-hostile' })
    relay = await startBurrow(lab, await lab.addPublicHost('relay'), { args: ['--relay-server', 'on'], logName: 'relay', env: debugEnv() })
    attackerHost = await lab.addPublicHost('attacker')
  })
  after(async () => { await lab?.teardown() })

  for (const mode of ['auto', 'on', 'off']) {
    it(`dialPrivateAddresses ${mode}: no connect() to the canaries, CONNECT over a direct connection refused, repeated CONNECT backed off`, async () => {
      const host = await lab.addPublicHost(`victim-${mode}`)
      const canary = await startCanary(host)
      const victim = await startBurrow(lab, host, { bootstrap: [relay.multiaddr], args: ['--dial-private-addresses', mode], logName: `victim-${mode}`, env: debugEnv() })

      // over a relayed connection the victim dialled: a CONNECT with only hostile addresses is reset
      const attacker = await startSpec(lab, attackerHost, `attacker-${mode}`, ['--relay', relay.multiaddr, '--reserve', '--no-dial', '--addresses', HOSTILE.join(',')])
      await victim.cliJson(['dial', `${relay.multiaddr}/p2p-circuit/p2p/${attacker.peerId}`], { timeoutMs: 30_000 })
      const first = await attacker.waitFor(e => e.event === 'exchange', 30_000, 'its exchange')
      // a punch dial would leave at once on SYNC; give stray SYNs time to land
      await sleep(2_000)
      assert.equal(hits(canary), 0, `no connection reached the canaries: ${canary.recentOutput}`)
      assert.equal(first.answered, false, `a CONNECT with nothing dialable is reset: ${JSON.stringify(first)}`)

      // a peer that keeps sending CONNECT (each with an address the victim may dial: the
      // attacker's own closed port) gets 3 exchanges, then is refused
      const repeater = await startSpec(lab, attackerHost, `repeater-${mode}`, ['--relay', relay.multiaddr, '--reserve', '--no-dial', '--attempts', '5', '--addresses', `/ip4/${attackerHost.ip}/tcp/9`])
      await victim.cliJson(['dial', `${relay.multiaddr}/p2p-circuit/p2p/${repeater.peerId}`], { timeoutMs: 30_000 })
      await repeater.waitFor(e => e.event === 'gave-up' || (e.event === 'exchange' && e.answered === false), 60_000, 'the end of its exchanges')
      const exchanges = repeater.events().filter(e => e.event === 'exchange')
      assert.deepEqual(exchanges.map(e => e.answered), [true, true, true, false], `3 exchanges answered, the 4th refused: ${JSON.stringify(exchanges)}`)

      // over a direct connection: refused
      const direct = await startSpec(lab, attackerHost, `attacker-direct-${mode}`, ['--direct-exchange', victim.multiaddr, '--addresses', HOSTILE.join(',')])
      const d = await direct.waitFor(e => e.event === 'direct-exchange', 30_000, 'its exchange over a direct connection')
      assert.equal(d.relayed, false)
      assert.equal(d.answered, false, `CONNECT over a direct connection is refused: ${JSON.stringify(d)}`)

      await sleep(2_000)
      assert.equal(hits(canary), 0, `no connection reached the canaries: ${canary.recentOutput}`)
      const st: Status = await statusOf(victim)
      const mine = (st.holePunch.attempts as unknown as Attempt[]).filter(a => a.peer === attacker.peerId)
      assert.equal(mine.length, 1, `the hostile CONNECT is recorded: ${JSON.stringify(mine)}`)
      assert.equal(mine[0]?.outcome, 'failed')
      assert.match(mine[0]?.detail ?? '', /no address we may dial.*0\.0\.0\.0[^;]*unspecified/)
      await victim.stop()
    })
  }
})
