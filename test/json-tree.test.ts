import t from 'tap'
import fc from 'fast-check'
import { copyTree, sameTree } from '../stores/kit/json-tree.js'

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
