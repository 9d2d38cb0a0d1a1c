/**
 * Issue 11: port mappings in the event stream and on the daemon's stdout — a daemon
 * behind a lab router running miniupnpd (UPnP only) tells `mapping:created` with the
 * router's WAN address, and prints one timestamped line for it.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lab, labUnavailableReason, startBurrow } from '../../lab/dist/index.js'
import { until } from '../lab/helpers.ts'
import type { BurrowEvent } from '../../dist/index.js'

describe('mapping events (miniupnpd in the lab)', { skip: labUnavailableReason(['miniupnpd']) }, () => {
  let lab: Lab | undefined
  after(async () => { await lab?.teardown() })

  it('a UPnP mapping is told as mapping:created (burrow events) and as a daemon line', async () => {
    lab = await Lab.create({ name: 'events-map' })
    const bootHost = await lab.addPublicHost('boot')
    const home = await lab.addHome('up', { nat: 'cone', portMapping: { upnp: true, natpmp: false, pcp: false } })
    const boot = await startBurrow(lab, bootHost, { logName: 'boot' })
    const a = await startBurrow(lab, home.hosts[0]!, { bootstrap: [boot.multiaddr], logName: 'a' })
    const created = await until('mapping:created in burrow events', async () => {
      const r = await a.cli(['events', '--json', '--since', '0', '--no-follow'])
      const events = r.stdout.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as BurrowEvent)
      return events.find(e => e.type === 'mapping:created')
    }, 30_000, 500)
    assert.ok(created.type === 'mapping:created')
    assert.equal(created.data.protocol, 'upnp')
    assert.equal(created.data.transport, 'tcp')
    assert.equal(created.data.internal, `/ip4/${home.hosts[0]!.ip}/tcp/4001`)
    assert.match(created.data.external, new RegExp(`^/ip4/${home.router.wanIp.replaceAll('.', '\\.')}/tcp/\\d+$`))
    assert.ok(created.data.expiresAt == null || !Number.isNaN(Date.parse(created.data.expiresAt)))
    await a.process.waitForOutput(/^\d{4}-\d\d-\d\dT[\d:.]+Z port mapping made: tcp \S+ -> \S+ via upnp/m, 10_000)
    await a.stop()
    await boot.stop()
  })
})
