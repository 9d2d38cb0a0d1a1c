import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, FIELDS, InvalidConfigError } from '../../../src/config/index.ts'

const dirs: string[] = []
async function home (config?: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-config-'))
  dirs.push(dir)
  if (config !== undefined) await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config))
  return dir
}
after(async () => { await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true }))) })

describe('config', () => {
  it('has the documented defaults when nothing is set', async () => {
    const c = await loadConfig({ home: await home() })
    assert.equal(c.network, 'amino')
    assert.deepEqual(c.listen, ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'])
    assert.equal(c.bootstrap, null)
    assert.equal(c.messages.maxBytes, 1024 * 1024)
    for (const f of FIELDS) assert.ok(f.doc.length > 10, `${f.path} is documented`)
  })

  it('applies file < env < flags', async () => {
    const h = await home({ network: 'from-file', keepaliveSeconds: 20, messages: { maxBytes: 2048 } })
    const fileOnly = await loadConfig({ home: h })
    assert.equal(fileOnly.network, 'from-file')
    assert.equal(fileOnly.messages.maxBytes, 2048)
    assert.equal(fileOnly.messages.retryIntervalSeconds, 30, 'untouched nested defaults stay')

    const withEnv = await loadConfig({ home: h, env: { BURROW_NETWORK: 'from-env', BURROW_LISTEN: '/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2' } })
    assert.equal(withEnv.network, 'from-env')
    assert.deepEqual(withEnv.listen, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
    assert.equal(withEnv.keepaliveSeconds, 20)

    const withFlags = await loadConfig({ home: h, env: { BURROW_NETWORK: 'from-env' }, flags: { network: 'from-flag' } })
    assert.equal(withFlags.network, 'from-flag')
  })

  it('names an unknown key and its file', async () => {
    const h = await home({ netwrok: 'x' })
    await assert.rejects(loadConfig({ home: h }), (err: InvalidConfigError) => {
      assert.equal(err.code, 'ERR_INVALID_CONFIG')
      assert.match(err.message, /unknown key 'netwrok'/)
      assert.match(err.message, /config\.json/)
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
  })

  it('names the field, the value and the source of a bad value', async () => {
    await assert.rejects(loadConfig({ home: await home(), flags: { listen: ['/ip4/0.0.0.0/tcp/99999'] } }),
      (err: Error) => /listen\[0\] = "\/ip4\/0\.0\.0\.0\/tcp\/99999" \(from --listen\)/.test(err.message))
    await assert.rejects(loadConfig({ home: await home(), env: { BURROW_KEEPALIVE_SECONDS: 'soon' } }),
      (err: Error) => /keepaliveSeconds = "soon" \(from environment variable BURROW_KEEPALIVE_SECONDS\)/.test(err.message))
    await assert.rejects(loadConfig({ home: await home({ portMapping: 'maybe' }) }),
      (err: Error) => /portMapping = "maybe"/.test(err.message))
    await assert.rejects(loadConfig({ home: await home(), flags: { bootstrap: ['/ip4/127.0.0.1/tcp/1'] } }),
      (err: Error) => /bootstrap\[0\].*\/p2p\/PEERID/.test(err.message))
    await assert.rejects(loadConfig({ home: await home(), flags: { metrics: '0.0.0.0:9090' } }),
      (err: Error) => /not a loopback address.*--metrics-public/.test(err.message))
    assert.equal((await loadConfig({ home: await home(), flags: { metrics: '0.0.0.0:9090', metricsPublic: true } })).metrics, '0.0.0.0:9090')
    assert.equal((await loadConfig({ home: await home(), flags: { metrics: '[::1]:9090' } })).metrics, '[::1]:9090')
  })

  it('says when config.json is not JSON', async () => {
    await assert.rejects(loadConfig({ home: await home('{ nope') }), (err: Error) => /not valid JSON/.test(err.message))
  })
})

describe('config: STUN servers', () => {
  it("takes 'none' and HOST:PORT the same way from env, file and flags", async () => {
    const h = await home()
    assert.deepEqual((await loadConfig({ home: h, env: { BURROW_STUN_SERVERS: 'none' } })).stunServers, [])
    assert.deepEqual((await loadConfig({ home: h, flags: { stunServers: ['none'] } })).stunServers, [])
    assert.deepEqual((await loadConfig({ home: h, env: { BURROW_STUN_SERVERS: '203.0.113.7:3478,stun:relay.example:3478' } })).stunServers, ['stun:203.0.113.7:3478', 'stun:relay.example:3478'])
    assert.deepEqual((await loadConfig({ home: await home({ stunServers: ['198.51.100.1:3478'] }) })).stunServers, ['stun:198.51.100.1:3478'])
    await assert.rejects(loadConfig({ home: h, env: { BURROW_STUN_SERVERS: 'stun://bad url' } }), InvalidConfigError)
  })
})
