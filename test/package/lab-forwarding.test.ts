// The lab sets IPv4 forwarding explicitly in every namespace it makes: a new namespace copies
// the host's IPv4 settings, and a host that runs Docker or podman (the image test below
// included) has net.ipv4.ip_forward=1. Routers must forward; hosts and the internet must not.
// This test turns the host's forwarding on for the length of one small lab, then puts the
// host's own value back (in `after`, even when an assertion fails).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { Lab } from '../../lab/dist/index.js'
import { skipReason } from '../lab/helpers.ts'

const HOST_FORWARD = '/proc/sys/net/ipv4/ip_forward'

describe('lab forwarding on a host that forwards (Docker/podman host)', { skip: skipReason() }, () => {
  let lab: Lab | undefined
  let original: string | undefined

  before(async () => {
    original = readFileSync(HOST_FORWARD, 'utf8').trim()
    writeFileSync(HOST_FORWARD, '1')
    try {
      lab = await Lab.create({ name: 'pkg-fwd' })
      await lab.addPublicHost('relay')
      await lab.addHome('a', { nat: 'cone' })
    } finally {
      // Restore at once: only namespace creation needs the host's value, and other runs share it.
      writeFileSync(HOST_FORWARD, original)
    }
  })

  after(async () => {
    if (original !== undefined) writeFileSync(HOST_FORWARD, original)
    await lab?.teardown()
  })

  it('routers forward; public hosts, LAN hosts and the internet do not', async () => {
    assert.ok(lab !== undefined)
    const read = async (ns: string, key: string): Promise<string> => (await lab!.exec(ns, 'sysctl', ['-n', key])).stdout.trim()
    const expect: Array<[string, string]> = [
      [lab.internet.ns, '0'],
      [lab.host('relay').ns, '0'],
      [lab.host('a').ns, '0'],
      [lab.router('a-gw').ns, '1']
    ]
    for (const [ns, want] of expect) {
      for (const key of ['net.ipv4.ip_forward', 'net.ipv4.conf.all.forwarding', 'net.ipv4.conf.default.forwarding']) {
        assert.equal(await read(ns, key), want, `${key} in ${ns}`)
      }
    }
    assert.equal(readFileSync(HOST_FORWARD, 'utf8').trim(), original, 'the host keeps its own value')
  })
})
