import t from 'tap'
import fc from 'fast-check'
import { SessionIndex } from '../stores/kit/session-index.js'
import { dataSize } from '../stores/kit/record.js'
import type { SessionPatch, SessionRecord } from '../types/index.js'

// SessionIndex patches records in place and keeps the data's size from the changed keys only: checked
// against a model that merges every patch and measures the whole data again.

const key = fc.constantFrom('a', 'b', 'ключ', '😀', '__proto__')
const value = fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 3 }), fc.constant(undefined))
const patch = fc.record({
  set: fc.dictionary(key, value, { maxKeys: 3 }),
  unset: fc.array(key, { maxLength: 2 }),
  maxBytes: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined })
})

const record = (data: Record<string, unknown>): SessionRecord => ({
  data, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {}
})

t.test('a patch applies, or is refused as too large, exactly as merging and measuring the whole data says', async t => {
  fc.assert(fc.property(fc.dictionary(key, fc.string(), { maxKeys: 3 }), fc.array(patch, { maxLength: 12 }), (initial, patches) => {
    const index = new SessionIndex()
    index.set('s', record({ ...initial }))
    let model: Record<string, unknown> = Object.assign(Object.create(null), initial)
    let version = 0
    for (const p of patches) {
      const merged: Record<string, unknown> = Object.assign(Object.create(null), model)
      for (const k of Object.keys(p.set)) {
        if (p.set[k] === undefined) delete merged[k]
        else merged[k] = p.set[k]
      }
      for (const k of p.unset) delete merged[k]
      const change: SessionPatch = { set: p.set, unset: p.unset }
      if (p.maxBytes !== undefined) change.maxBytes = p.maxBytes
      const expected = p.maxBytes !== undefined && dataSize(merged) > p.maxBytes ? 'too-large' : 'ok'
      const result = index.patch('s', change)
      if (result !== expected) return false
      if (result === 'ok') {
        model = merged
        version++
      }
      const stored = index.get('s') as SessionRecord
      if (JSON.stringify(stored.data, Object.keys(stored.data).sort()) !== JSON.stringify(model, Object.keys(model).sort())) return false
      if (stored.version !== version) return false
    }
    return true
  }), { numRuns: 400 })
  t.pass('400 runs of up to 12 patches')
})

t.test('a refused patch changes nothing: not the data, not the size kept for the next patch', async t => {
  const index = new SessionIndex()
  index.set('s', record({ a: 'x'.repeat(10) }))
  t.equal(index.patch('s', { set: { b: 'y'.repeat(50) }, unset: [], maxBytes: 30 }), 'too-large')
  t.same(index.get('s')?.data, { a: 'x'.repeat(10) })
  // a: 1 + 12 bytes; had b's 51 + 1 been counted, this would be refused
  t.equal(index.patch('s', { set: { c: 'z' }, unset: [], maxBytes: 17 }), 'ok')
  t.equal(index.patch('s', { set: { d: 'w' }, unset: [], maxBytes: 17 }), 'too-large', '13 + 4 + 4 bytes')
})
