/**
 * The errors the README promises come from the package root and are caught by class
 * (issue 14: `MessageTooLargeError` / `PeerUnreachableError` were not exported).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import * as burrow from '../../dist/index.js'
import { tempHome } from '../helpers/burrow.ts'

describe('library errors from the package root', () => {
  const homes: string[] = []
  const nodes: burrow.BurrowNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const h of homes) await rm(h, { recursive: true, force: true })
  })

  it('exports every error class the README names, and each is thrown where it says', async () => {
    for (const name of ['MessageTooLargeError', 'MessageRejectedError', 'PeerUnreachableError', 'PeerNotFoundError', 'DialFailedError', 'InvalidPeerIdError', 'NotStartedError', 'HomeInUseError', 'InvalidConfigError', 'BurrowError']) {
      assert.equal(typeof (burrow as Record<string, unknown>)[name], 'function', `${name} is exported`)
    }
    const home = await tempHome('lib')
    homes.push(home)
    const node = await burrow.createNode({ home, config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], portMapping: 'off', 'messages.maxBytes': 1024 } })
    await assert.rejects(node.status(), burrow.NotStartedError)
    await node.start()
    nodes.push(node)
    await assert.rejects(node.send('not-a-peer-id', 'x'), burrow.InvalidPeerIdError)
    await assert.rejects(node.send('12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', new Uint8Array(4096)), burrow.MessageTooLargeError)
    const unreachable = await node.send('12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', 'hello').then(() => undefined, (err: unknown) => err)
    assert.ok(unreachable instanceof burrow.PeerUnreachableError, `PeerUnreachableError, got ${String(unreachable)}`)
    assert.ok(unreachable instanceof burrow.BurrowError)
  })
})
