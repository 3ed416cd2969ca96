// Copies and comparisons of JSON trees (plain objects, arrays, Dates and primitives), about 4× cheaper
// than a JSON.stringify or JSON.parse of the same value. MemoryStore hands out copies with it, and the
// plugin snapshots the object values it hands out with it, to see nested mutations at save.

/** deeper than this, a value is treated as not a plain tree (the callers then use JSON) */
export const MAX_DEPTH = 64
const NOT_PLAIN = Symbol('not a plain JSON tree')

export function isPlainObject (value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function copy (value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth > MAX_DEPTH) return NOT_PLAIN
  if (Array.isArray(value)) {
    const out = new Array(value.length)
    for (let i = 0; i < value.length; i++) {
      const item = copy(value[i], depth + 1)
      if (item === NOT_PLAIN) return NOT_PLAIN
      out[i] = item
    }
    return out
  }
  if (value instanceof Date) return new Date(value.getTime())
  if (!isPlainObject(value)) return NOT_PLAIN
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const item = copy((value as Record<string, unknown>)[key], depth + 1)
    if (item === NOT_PLAIN) return NOT_PLAIN
    // an own "__proto__" key (JSON.parse makes one) must stay a key, not set the prototype
    if (key !== '__proto__') out[key] = item
    else Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/**
 * A deep copy of a tree of plain objects, arrays, Dates and primitives, or undefined when `value`
 * holds anything else (a class instance, a Map) or nests deeper than 64.
 */
export function copyTree<T> (value: T): T | undefined {
  const out = copy(value, 0)
  return out === NOT_PLAIN ? undefined : out as T
}

/**
 * Whether `value` equals the plain tree `tree` as JSON would see it: same keys and values at every
 * level in any key order, undefined object values counted as absent, a Date equal to a Date of the same time. Anything
 * that is not a plain tree in `value` is unequal.
 */
export function sameTree (value: unknown, tree: unknown): boolean {
  if (value === tree) return true
  if (value === null || tree === null || typeof value !== 'object' || typeof tree !== 'object') {
    return typeof value === 'number' && typeof tree === 'number' && Number.isNaN(value) && Number.isNaN(tree)
  }
  if (Array.isArray(value)) {
    if (!Array.isArray(tree) || value.length !== tree.length) return false
    for (let i = 0; i < value.length; i++) if (!sameTree(value[i], tree[i])) return false
    return true
  }
  if (value instanceof Date) return tree instanceof Date && Object.is(value.getTime(), tree.getTime())
  if (Array.isArray(tree) || tree instanceof Date || !isPlainObject(value)) return false
  const a = value as Record<string, unknown>
  const b = tree as Record<string, unknown>
  let keys = 0
  for (const key of Object.keys(a)) {
    if (a[key] === undefined) continue
    if (!Object.hasOwn(b, key) || !sameTree(a[key], b[key])) return false
    keys++
  }
  for (const key of Object.keys(b)) if (b[key] !== undefined) keys--
  return keys === 0
}
