/**
 * A node says how many of its bootstrap peers answered (issue 14): `status.bootstrap`, and
 * one daemon line after 10 s — a node that reaches none of them used to say "ready" and
 * nothing else.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { startDaemon, stopAll, burrow, burrowJson, waitFor } from '../helpers/burrow.ts'

async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
  return port
}

describe('bootstrap progress', () => {
  after(async () => { await stopAll() })

  it('status counts the bootstrap peers that answered; the daemon says when none did', async () => {
    const a = await startDaemon('boot-a')
    const b = await startDaemon('boot-b', { bootstrap: [a.address] })
    await waitFor('B counted A as an answering bootstrap peer', async () => {
      const st = await burrowJson<{ bootstrap: { peers: number, answered: number } }>(b.home, ['status'])
      return st.bootstrap.peers === 1 && st.bootstrap.answered === 1
    })

    const dead = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${a.peerId}`
    const c = await startDaemon('boot-c', { bootstrap: [dead] })
    const st = await burrowJson<{ bootstrap: { peers: number, answered: number } }>(c.home, ['status'])
    assert.deepEqual(st.bootstrap, { peers: 1, answered: 0 })
    assert.match((await burrow(c.home, ['status'])).stdout, /^bootstrap: +0 of 1 peers answered: check the network, or pass --bootstrap$/m)
    await waitFor('the daemon line about bootstrap', async () => /^bootstrap: 0 of 1 peers answered after 10 s: check the network, or pass --bootstrap$/m.test(c.output()), 30_000)
  })
})
