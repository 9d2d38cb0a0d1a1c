/**
 * Addresses the user names are the user's choice (issue 14): an explicit loopback
 * `--bootstrap` on the default network (amino, where learned private addresses are never
 * dialled) is dialled, and the daemon says so in one line; `burrow dial MULTIADDR` to a
 * loopback address works there too. Before, the gater dropped both without a word. And on
 * amino the node announces no loopback or private address (it used to announce 127.0.0.1).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDaemon, stopDaemon, stopAll, burrow, burrowJson, waitFor } from '../helpers/burrow.ts'

describe('addresses the user names', () => {
  after(async () => { await stopAll() })

  it('an explicit loopback bootstrap and dial address are dialled on amino, with one line saying why; nothing private is announced there', async () => {
    const a = await startDaemon('named-a')
    const c = await startDaemon('named-c')
    // the only bootstrap peer is the one named here: nothing public is contacted
    const b = await startDaemon('named-b', { bootstrap: [a.address], args: ['--network', 'amino'] })
    assert.match(b.output(), new RegExp(`^bootstrap: dialling ${a.address.replace(/[./]/g, '\\$&')} although it is a loopback address, because you named it`, 'm'))
    await waitFor('B connected to its named bootstrap peer', async () => {
      const peers = await burrowJson<Array<{ peerId: string }>>(b.home, ['peers'])
      return peers.some(p => p.peerId === a.peerId)
    })
    // on the public network it announces only what others can use: not its loopback address
    const st = await burrowJson<{ addresses: { listen: string[], announced: string[] } }>(b.home, ['status'])
    assert.ok(st.addresses.listen.some(x => x.startsWith('/ip4/127.0.0.1/')), 'B listens on loopback')
    assert.deepEqual(st.addresses.announced.filter(x => /^\/ip[46]\/(127\.|::1|10\.|192\.168\.|172\.(1[6-9]|2|3[01])|fd|fe80)/.test(x)), [], `nothing private announced on amino: ${JSON.stringify(st.addresses.announced)}`)
    const dialled = await burrow(b.home, ['dial', c.address, '--json'])
    assert.equal(dialled.code, 0, `burrow dial ${c.address}: ${dialled.stderr}`)
    assert.equal((JSON.parse(dialled.stdout) as { peerId: string }).peerId, c.peerId)
  })
})

describe('a dial the private-address policy refuses', () => {
  after(async () => { await stopAll() })

  it('names the setting that refused it, in one line', async () => {
    const a = await startDaemon('deny-a')
    const b = await startDaemon('deny-b')
    // B learns A's (loopback) addresses while connected; they stay in its peer store
    assert.equal((await burrow(b.home, ['dial', a.address])).code, 0)
    await stopDaemon(b)
    // B again, now refusing learned private addresses: A's stored addresses are not named this time
    const again = await startDaemon('deny-b2', { home: b.home, args: ['--dial-private-addresses', 'off'] })
    const r = await burrow(again.home, ['dial', a.peerId])
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^burrow: ERR_DIAL_FAILED: could not connect to \S+: every address known for it is private, loopback or link-local, and dialPrivateAddresses is 'off' on network 'test'/)
  })
})
