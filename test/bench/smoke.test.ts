/**
 * Benchmarks must not rot: each runs once at its smallest size (seconds) and must produce
 * well-formed results. No timing is asserted here (DESIGN.md, Benchmarks); the lab parts
 * are left out, so this runs as any user.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BENCHMARKS, runBenchmarks } from '../../bench/run.ts'
import { renderSvg } from '../../bench/svg.ts'
import { markdownTable, textTable } from '../../bench/report.ts'
import type { Figure } from '../../bench/report.ts'
import type { Summary } from '../../bench/stats.ts'

function assertSummary (s: Summary, where: string): void {
  for (const k of ['median', 'p10', 'p25', 'p75', 'p90', 'min', 'max', 'mean'] as const) {
    assert.ok(Number.isFinite(s[k]), `${where}: ${k} is ${s[k]}`)
  }
  assert.ok(s.n >= 1, `${where}: n = ${s.n}`)
  assert.ok(s.min <= s.p10 && s.p10 <= s.median && s.median <= s.p90 && s.p90 <= s.max, `${where}: order statistics out of order`)
}

function assertFigure (f: Figure): void {
  assert.match(f.key, /^[a-z0-9-]+(\.[a-z0-9-]+)+$/, `figure key ${f.key}`)
  assert.ok(f.label.length > 0 && f.unit.length > 0, `${f.key}: label and unit`)
  if (f.value == null) {
    assert.ok((f.note ?? '').length > 0, `${f.key}: an unmeasured figure says why`)
  } else {
    assertSummary(f.value, f.key)
  }
  if (f.baseline?.value != null) assertSummary(f.baseline.value, `${f.key} baseline`)
  if (f.compare?.value != null) assertSummary(f.compare.value, `${f.key} compare`)
  if (f.target != null) assert.match(f.target.id, /^[PR]\d$/)
}

describe('benchmarks, smoke size', { timeout: 240_000 }, () => {
  it('every benchmark runs and reports well-formed figures', async () => {
    const doc = await runBenchmarks({ size: 'smoke', write: false, noLab: true, log: () => {} })
    assert.deepEqual(doc.results.map(r => r.name), BENCHMARKS.map(b => b.name))
    for (const r of doc.results) {
      assert.notEqual(r.status, 'failed', `${r.name} failed: ${r.error ?? ''}`)
      if (r.status === 'skipped') {
        assert.ok(r.notes.length > 0, `${r.name}: a skipped benchmark says why`)
        continue
      }
      assert.ok(r.figures.length > 0, `${r.name}: no figures`)
      assert.ok(r.figures.some(f => f.value != null), `${r.name}: nothing measured`)
      for (const f of r.figures) assertFigure(f)
    }
    // the soak (R6): every message sent was delivered once, none twice, despite the churn
    const soak = doc.results.find(r => r.name === 'soak')
    assert.ok(soak !== undefined, 'the soak runs at the smoke size')
    const fig = (key: string): number | undefined => soak.figures.find(f => f.key === key)?.value?.median
    assert.equal(fig('soak.lost'), 0, `soak: messages lost (${soak.notes.join('; ')})`)
    assert.equal(fig('soak.duplicated'), 0, 'soak: messages duplicated')
    assert.ok((fig('soak.churn') ?? 0) > 0, 'soak: connections were closed during the run')
    assert.ok(soak.figures.find(f => f.key === 'soak.rss-slope')?.value != null, 'soak: an RSS slope per node')
    assert.ok(soak.figures.some(f => f.key === 'soak.outside-heap-slope'), 'soak: the memory outside V8\'s heap is followed')
    // P8 is judged on the settled RSS (read right after a memory-reducing GC), beside the raw curve
    const settled = soak.figures.find(f => f.key === 'soak.settled-rss-slope')
    assert.ok(settled?.value != null && settled.target?.id === 'P8', 'soak: a settled-RSS slope per node, judged as P8')
    assert.ok(soak.figures.find(f => f.key === 'soak.rss-slope')?.target === undefined, 'soak: the raw RSS curve is shown, not judged')
    // P7's profile: what burrow's code costs before any of it runs
    const memory = doc.results.find(r => r.name === 'memory')
    const imported = memory?.figures.find(f => f.key === 'memory.stock-imported-rss')
    assert.ok(imported?.value != null && imported.baseline?.value != null, 'memory: the stock node with burrow\'s modules imported, beside the stock node')
    // P4's floor: the same transfer between two stock js-libp2p nodes
    const stock = doc.results.find(r => r.name === 'messages')?.figures.find(f => f.key === 'messages.loopback.throughput-vs-stock')
    assert.ok(stock?.value != null && stock.baseline?.value != null, 'messages: burrow and stock js-libp2p stream throughput')
    // the relay load client's levels (both relays) and the DHT's hops are measured
    const relay = doc.results.find(r => r.name === 'relay')
    const level = relay?.figures.find(f => f.key === 'relay.reservations-4.rss')
    assert.ok(level?.value != null && level.baseline?.value != null, 'relay: RSS at the reservation level, burrow and stock')
    assert.equal(relay?.figures.find(f => f.key === 'relay.reservations-4.refused')?.value?.median, 0, 'relay: no reservation refused at the smoke size')
    const dhtHops = doc.results.find(r => r.name === 'dht')?.figures.filter(f => f.key.endsWith('.hops')) ?? []
    assert.ok(dhtHops.length > 0 && dhtHops.every(f => (f.value?.median ?? 0) >= 1), 'dht: hops per lookup')
    // the outputs render and the JSON round-trips
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc)
    assert.match(renderSvg(doc), /^<svg [^>]*>[\s\S]*<\/svg>\n$/)
    assert.ok(textTable(doc.results).split('\n').length > doc.results.length)
    assert.match(markdownTable(doc), /\| benchmark \| figure \|/)
  })
})
