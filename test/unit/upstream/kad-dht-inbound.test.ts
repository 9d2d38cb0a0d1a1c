// kad-dht's inbound DHT handler leaves an abort listener holding the stream on a 10 s timer
// after the stream ended (src/upstream/kad-dht-inbound.ts): the handler gets a stand-in that
// forwards to the stream while it runs and lets go of it when it returns.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { detachable, patchKadDhtInbound } from '../../../src/upstream/index.ts'

/** a stream-like class with a private field: methods must run with the real stream as `this` */
class FakeStream extends EventTarget {
  #aborted: Error | undefined
  protocol = '/test'
  readStatus = 'readable'
  abort (err: Error): void { this.#aborted = err }
  get abortedWith (): Error | undefined { return this.#aborted }
  async close (): Promise<void> { this.readStatus = 'closed' }
}

describe('the stand-in for an inbound DHT stream', () => {
  it('forwards reads, calls (with the stream as this), writes and `in` while attached', async () => {
    const real = new FakeStream()
    const { stream } = detachable(real)
    assert.equal(stream.protocol, '/test')
    assert.ok(stream instanceof FakeStream)
    assert.ok('readStatus' in stream)
    let heard = 0
    stream.addEventListener('message', () => { heard++ })
    real.dispatchEvent(new Event('message'))
    assert.equal(heard, 1, 'a listener added through the stand-in is on the stream')
    stream.protocol = '/other'
    assert.equal(real.protocol, '/other')
    await stream.close()
    assert.equal(real.readStatus, 'closed')
    const err = new Error('boom')
    stream.abort(err)
    assert.equal(real.abortedWith, err)
  })

  it('once detached, abort() and close() do nothing and nothing else reads through', async () => {
    const real = new FakeStream()
    const { stream, detach } = detachable(real)
    detach()
    stream.abort(new Error('timeout, 10 s later'))
    await stream.close()
    assert.equal(real.abortedWith, undefined)
    assert.equal(real.readStatus, 'readable')
    assert.equal(stream.protocol, undefined)
    assert.equal('protocol' in stream, false)
  })

  it("the patched handler runs kad-dht's with a stand-in, and detaches it when it returns or throws", async () => {
    const seen: FakeStream[] = []
    const rpc = {
      fail: false,
      async onIncomingStream (stream: FakeStream, _connection: unknown): Promise<void> {
        assert.equal(this, rpc, 'kad-dht\'s handler runs on its RPC object')
        seen.push(stream)
        assert.equal(stream.protocol, '/test', 'attached while the handler runs')
        if (this.fail) throw new Error('bad message')
      }
    }
    patchKadDhtInbound({ rpc })
    const real = new FakeStream()
    await rpc.onIncomingStream(real, {})
    assert.notEqual(seen[0], real, 'kad-dht gets a stand-in, not the stream')
    seen[0]?.abort(new Error('kad-dht\'s timer fires after the handler returned'))
    assert.equal(real.abortedWith, undefined)
    rpc.fail = true
    const other = new FakeStream()
    await assert.rejects(rpc.onIncomingStream(other, {}), /bad message/)
    seen[1]?.abort(new Error('late'))
    assert.equal(other.abortedWith, undefined, 'detached after a throw too')
  })
})
