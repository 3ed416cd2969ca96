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

t.test('maxEntries keeps the most recently used sessions, in the order a model of the LRU list says', async t => {
  const op = fc.record({ kind: fc.constantFrom('set', 'get', 'patch', 'touch', 'destroy'), key: fc.integer({ min: 0, max: 7 }) })
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
    const index = new SessionIndex(max)
    let model: string[] = []
    const use = (key: string): void => { model = [...model.filter(k => k !== key), key] }
    for (const { kind, key: n } of ops) {
      const key = `k${n}`
      const present = model.includes(key)
      if (kind === 'set') {
        index.set(key, record({ n }))
        use(key)
      } else if (kind === 'get') {
        if ((index.get(key) !== undefined) !== present) return false
        if (present) use(key)
      } else if (kind === 'patch') {
        if ((index.patch(key, { set: { n }, unset: [] }) === 'ok') !== present) return false
        if (present) use(key)
      } else if (kind === 'touch') {
        if (index.touch(key, null) !== present) return false
      } else {
        if (index.destroy(key) !== present) return false
        model = model.filter(k => k !== key)
      }
      if (model.length > max) model = model.slice(model.length - max)
      if (index.liveRecords().map(([k]) => k).join() !== model.join()) return false
    }
    return true
  }), { numRuns: 300 })
  t.pass('300 runs of up to 200 operations')
})

t.test('a full index with many holes at its front (left by recency moves) still evicts the oldest', async t => {
  const index = new SessionIndex(1000)
  for (let i = 0; i < 1000; i++) index.set(`k${i}`, record({}))
  // every read moves its entry to the end, leaving a hole at the front of the Map
  for (let i = 0; i < 999; i++) index.get(`k${i}`)
  for (let i = 1000; i < 3000; i++) index.set(`k${i}`, record({}))
  t.equal(index.size, 1000)
  t.same(index.liveRecords().map(([k]) => k), Array.from({ length: 1000 }, (_, i) => `k${i + 2000}`))
})
