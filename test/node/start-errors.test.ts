/**
 * The commonest start failures are one coded line with the fix (issue 14): a listen port
 * another program holds (kubo uses 4001 too) and a home another daemon is using. Before,
 * they surfaced as `UnsupportedListenAddressesError: … transportManager.faultTolerance …`
 * and `ERR_OPEN_FAILED: Error: Database failed to open`.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { startDaemon, stopAll, burrow, tempHome } from '../helpers/burrow.ts'

describe('daemon start failures', () => {
  const servers: Server[] = []
  after(async () => {
    for (const s of servers) s.close()
    await stopAll()
  })

  it('a listen port in use: ERR_PORT_IN_USE naming the address and another port to use', async () => {
    const holder = createServer()
    servers.push(holder)
    await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
    const port = (holder.address() as AddressInfo).port
    const home = await tempHome('port')
    const r = await burrow(home, ['daemon', '--network', 'test', '--listen', `/ip4/127.0.0.1/tcp/${port}`], { timeoutMs: 30_000 })
    assert.equal(r.code, 1)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0] ?? '', new RegExp(`^burrow: ERR_PORT_IN_USE: cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: .*--listen /ip4/127\\.0\\.0\\.1/tcp/${port + 1}`))
  })

  it('a second daemon on the same home: ERR_HOME_IN_USE', async () => {
    const first = await startDaemon('inuse')
    const r = await burrow(first.home, ['daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0'], { timeoutMs: 30_000 })
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^burrow: ERR_HOME_IN_USE: another burrow daemon is using /)
  })
})
