/**
 * `burrow config show` tells what the running daemon uses, flags included, and says which
 * it printed (issue 14: it used to print file + env only, and had no --json).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDaemon, stopDaemon, stopAll, burrow, burrowJson } from '../helpers/burrow.ts'

describe('burrow config show', () => {
  after(async () => { await stopAll() })

  it("prints the running daemon's config, flags included; without a daemon, file + env, and says so", async () => {
    const d = await startDaemon('cfg', { args: ['--dial-private-addresses', 'on', '--tcp-dial-port', '0'] })
    const live = await burrowJson<{ source: string, config: { network: string, dialPrivateAddresses: string, listen: string[] } }>(d.home, ['config', 'show'])
    assert.equal(live.source, 'daemon')
    assert.equal(live.config.network, 'test', 'the --network flag')
    assert.equal(live.config.dialPrivateAddresses, 'on', 'the --dial-private-addresses flag')
    assert.deepEqual(live.config.listen, ['/ip4/127.0.0.1/tcp/0'])
    const text = await burrow(d.home, ['config', 'show'])
    assert.match(text.stdout, /^# the config of the daemon running for /)

    await stopDaemon(d)
    const offline = await burrowJson<{ source: string, config: { network: string, dialPrivateAddresses: string } }>(d.home, ['config', 'show'])
    assert.equal(offline.source, 'file')
    assert.equal(offline.config.network, 'amino', 'no flags without a daemon: the default network')
    assert.match((await burrow(d.home, ['config', 'show'])).stdout, /^# no daemon runs for /)
  })
})
