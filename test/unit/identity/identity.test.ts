import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, stat, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '../../../src/identity/index.ts'

const dirs: string[] = []
after(async () => { await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true }))) })
async function home (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'burrow-identity-'))
  dirs.push(d)
  return join(d, 'home')
}

describe('identity', () => {
  it('is created once, 0600, and the same PeerId comes back', async () => {
    const h = await home()
    const first = await loadOrCreateIdentity(h)
    assert.equal(first.created, true)
    assert.equal((await stat(first.file)).mode & 0o777, 0o600)
    assert.equal((await stat(h)).mode & 0o777, 0o700)
    const second = await loadOrCreateIdentity(h)
    assert.equal(second.created, false)
    assert.equal(second.peerId.toString(), first.peerId.toString())
    assert.equal(first.peerId.type, 'Ed25519')
  })

  it('refuses a key that others can read', async () => {
    const h = await home()
    const { file } = await loadOrCreateIdentity(h)
    await chmod(file, 0o644)
    await assert.rejects(loadOrCreateIdentity(h), (err: Error & { code: string }) => {
      assert.equal(err.code, 'ERR_INSECURE_KEY')
      assert.match(err.message, /chmod 600/)
      return true
    })
    // the key is left as it was: nothing is overwritten
    assert.ok((await readFile(file)).length > 0)
  })

  it('says when the key file is not a key', async () => {
    const h = await home()
    const { file } = await loadOrCreateIdentity(h)
    await writeFile(file, 'garbage', { mode: 0o600 })
    await assert.rejects(loadOrCreateIdentity(h), (err: Error & { code: string }) => err.code === 'ERR_CORRUPT_KEY')
  })
})
