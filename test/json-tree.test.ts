import t from 'tap'
import fc from 'fast-check'
import { copyTree, sameTree } from '../stores/kit/json-tree.js'
import { parse, stringify } from '../stores/kit/codec.js'
import { dataSize, oversize } from '../stores/kit/record.js'

/** JSON with object keys sorted: equal texts mean equal values as JSON sees them, in any key order */
function canonical (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    return Object.fromEntries(Object.keys(v).sort().map(k => [k, (v as Record<string, unknown>)[k]]))
  })
}

const tree = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.date({ noInvalidDate: true }), fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor'), fc.option(tie('value'), { nil: undefined }), { maxKeys: 3 }))
})).value

t.test('copyTree gives an equal, independent copy', async t => {
  fc.assert(fc.property(tree, value => {
    const copy = copyTree(value)
    t.equal(canonical(copy), canonical(value))
    if (value !== null && typeof value === 'object') t.not(copy, value)
    t.ok(sameTree(value, copy))
  }))
})

t.test('sameTree agrees with comparing the values as JSON, key order aside', async t => {
  fc.assert(fc.property(tree, tree, (a, b) => {
    t.equal(sameTree(a, b), canonical(a) === canonical(b), `${canonical(a)} vs ${canonical(b)}`)
  }))
  // near misses the random pairs rarely hit
  fc.assert(fc.property(tree, value => {
    t.equal(sameTree({ k: value, extra: 1 }, { k: value }), false)
    t.equal(sameTree([value], [value, value]), false)
    t.equal(sameTree({ k: value }, { k: value, gone: undefined }), true)
  }))
})

t.test('a mutation anywhere in a copy is seen', async t => {
  const original = { user: { roles: ['a'], since: new Date(0), plan: { seats: 1 } } }
  const mutations: Array<(v: typeof original) => void> = [
    v => { v.user.roles.push('b') },
    v => { v.user.roles[0] = 'z' },
    v => { v.user.since.setTime(1) },
    v => { v.user.plan.seats++ },
    v => { delete (v.user as Partial<typeof v.user>).plan },
    v => { (v.user.plan as Record<string, unknown>).extra = null }
  ]
  for (const mutate of mutations) {
    const snapshot = copyTree(original)!
    const live = copyTree(original)!
    mutate(live)
    t.equal(sameTree(live, snapshot), false, String(mutate))
    t.ok(sameTree(original, snapshot), 'the snapshot itself is untouched')
  }
})

t.test('an own __proto__ key is copied as a key, not as a prototype', async t => {
  const value = JSON.parse('{"__proto__":{"admin":true},"a":1}') as Record<string, unknown>
  const copy = copyTree(value)!
  t.equal(Object.getPrototypeOf(copy), Object.prototype)
  t.same(Object.keys(copy), ['__proto__', 'a'])
  t.equal((copy as { admin?: boolean }).admin, undefined)
  t.ok(sameTree(value, copy))
  t.notOk(sameTree(value, { a: 1 }))
})

t.test('what is not a plain tree is not copied, and never equal to a copy', async t => {
  class Point { x = 1 }
  t.equal(copyTree({ p: new Point() }), undefined)
  t.equal(copyTree([new Map()]), undefined)
  let deep: unknown = 1
  for (let i = 0; i < 70; i++) deep = [deep]
  t.equal(copyTree(deep), undefined, 'deeper than 64 levels')
  t.notOk(sameTree({ p: new Point() }, { p: { x: 1 } }))
  t.notOk(sameTree(new Date(5), 5))
  t.notOk(sameTree([1], { 0: 1 }))
  t.ok(sameTree(new Date(NaN), new Date(NaN)))
})

/** values JSON changes or refuses to keep as they are, mixed into trees */
const odd = fc.constantFrom<unknown>(NaN, Infinity, -0, undefined, new Date(NaN), { $date: '2026-01-01T00:00:00.000Z' }, { $date: null }, { $date: 'x' }, new Map([[1, 2]]), '\u0000\ud800', 1e21, -1.7976931348623157e+308)
const anyTree = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.date(), odd, fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', '__proto__', '$date'), tie('value'), { maxKeys: 3 }))
})).value

t.test('the codec gives Dates back as Dates, years past 9999 and invalid ones included', async t => {
  fc.assert(fc.property(fc.date(), date => {
    const back = parse(stringify({ date, list: [date] })) as { date: Date, list: Date[] }
    t.ok(back.date instanceof Date && back.list[0] instanceof Date, String(date.getTime()))
    t.ok(sameTree(back, { date, list: [date] }))
  }))
  t.ok(sameTree(parse(stringify(new Date('+010000-01-01T00:00:00.000Z'))), new Date('+010000-01-01T00:00:00.000Z')))
})

t.test('the codec finds a Date at any depth, in objects and arrays alike, and writes a tree without one as JSON does', async t => {
  const dateless = fc.letrec(tie => ({
    value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 }))
  })).value
  fc.assert(fc.property(dateless, value => {
    t.equal(stringify(value), JSON.stringify(value))
  }))
  // a path of object keys and array indexes down to where the Date goes
  const path = fc.array(fc.oneof(fc.constantFrom('a', 'b'), fc.nat(2)), { maxLength: 6 })
  fc.assert(fc.property(dateless, path, fc.date(), (around, steps, date) => {
    let tree: unknown = date
    for (const step of [...steps].reverse()) {
      if (typeof step === 'number') tree = [...Array.from({ length: step }, () => around), tree]
      else tree = { x: around, [step]: tree }
    }
    t.ok(sameTree(parse(stringify(tree)), tree), JSON.stringify(steps))
  }))
})

t.test('oversize agrees with dataSize for any data and limit', async t => {
  fc.assert(fc.property(fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), anyTree, { maxKeys: 4 }), fc.nat(400), (data, limit) => {
    if (Object.values(data).some(v => v instanceof Map)) return
    const size = dataSize(data)
    t.equal(oversize(data, limit), size > limit ? size : undefined, `size ${size}, limit ${limit}`)
  }))
  // undefined in an array is written as null: the bound must count it (the random limits rarely land on it)
  for (const data of [{ a: [undefined] }, { a: new Array(100).fill(undefined) }, { a: [1, undefined, { b: undefined }] }]) {
    for (let limit = 0; limit <= dataSize(data); limit++) t.equal(oversize(data, limit), dataSize(data) > limit ? dataSize(data) : undefined)
  }
  const text = '\u0001é😀'.repeat(1000)
  t.equal(oversize({ text }, dataSize({ text })), undefined, 'exactly at the limit fits')
  t.equal(oversize({ text }, dataSize({ text }) - 1), dataSize({ text }))
})
