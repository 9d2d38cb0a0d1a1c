/**
 * Addresses the user names are the user's choice (issue 14): an explicit loopback
 * `--bootstrap` on the default network (amino, where learned private addresses are never
 * dialled) is dialled, and the daemon says so in one line; `burrow dial MULTIADDR` to a
 * loopback address works there too. Before, the gater dropped both without a word.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDaemon, stopAll, burrow, burrowJson, waitFor } from '../helpers/burrow.ts'

describe('addresses the user names', () => {
  after(async () => { await stopAll() })

  it('an explicit loopback bootstrap and dial address are dialled on amino, with one line saying why', async () => {
    const a = await startDaemon('named-a')
    const c = await startDaemon('named-c')
    // the only bootstrap peer is the one named here: nothing public is contacted
    const b = await startDaemon('named-b', { bootstrap: [a.address], args: ['--network', 'amino'] })
    assert.match(b.output(), new RegExp(`^bootstrap: dialling ${a.address.replace(/[./]/g, '\\$&')} although it is a loopback address, because you named it`, 'm'))
    await waitFor('B connected to its named bootstrap peer', async () => {
      const peers = await burrowJson<Array<{ peerId: string }>>(b.home, ['peers'])
      return peers.some(p => p.peerId === a.peerId)
    })
    const dialled = await burrow(b.home, ['dial', c.address, '--json'])
    assert.equal(dialled.code, 0, `burrow dial ${c.address}: ${dialled.stderr}`)
    assert.equal((JSON.parse(dialled.stdout) as { peerId: string }).peerId, c.peerId)
  })
})
