/**
 * The AutoNAT v1 server dials a v1-only peer back on a public address (the lab's public
 * network, in namespaces the test creates): the answer is OK, and the connection the peer
 * asked over stays open. The stock server dialled without `force`, so libp2p handed it the
 * peer's own connection; its remote address is not the one asked for, so the server
 * answered E_DIAL_ERROR ("Unexpected remote address") and closed that connection: every
 * kubo peer that asked burrow for a dial-back was told it is unreachable and cut off.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Lab, labUnavailableReason, startBurrow } from '../../lab/dist/index.js'
import { jsonLines } from '../lab/helpers.ts'
import type { BurrowNode } from '../../lab/dist/index.js'

const SCRIPT = join(import.meta.dirname, 'fixtures', 'v1-ask.ts')

describe('AutoNAT v1 server: a dial-back on a public address', { skip: labUnavailableReason() }, () => {
  let lab: Lab
  let server: BurrowNode

  before(async () => {
    lab = await Lab.create({ name: 'v1-lab' })
    server = await startBurrow(lab, await lab.addPublicHost('server'), { logName: 'server' })
  })
  after(async () => { await lab?.teardown() })

  it('answers OK for a v1-only peer that listens where it says, and keeps the connection it asked over', async () => {
    const host = await lab.addPublicHost('asker')
    const proc = await host.spawn(process.execPath, [SCRIPT, server.multiaddr, `/ip4/${host.ip}/tcp/4001`], { logName: 'asker' })
    await proc.waitForOutput(/^\{.*\}$/m, 60_000)
    const [res] = jsonLines(proc.recentOutput) as Array<{ status?: string, statusText?: string, connected?: boolean, error?: string }>
    assert.equal(res?.error, undefined, `the asker failed: ${String(res?.error)} (log ${proc.logFile})`)
    assert.equal(res?.status, 'OK', `dial-back answer: ${String(res?.status)} ${String(res?.statusText)}`)
    assert.equal(res?.connected, true, 'the connection the request came over is still open')
  })
})
