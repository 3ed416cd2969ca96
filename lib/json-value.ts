// Sessions are stored as JSON (Dates included: the stores' codec revives them). A value JSON cannot
// carry (a Map, a Set, a bigint, a class instance) would come back as something else and fail the
// schema on the next request.
import { isPlainObject } from '../stores/kit/json-tree.js'
import { hasLoneSurrogate } from '../stores/kit/text.js'

function describe (value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : String(value)
    case 'object': {
      if (value === null || Array.isArray(value) || value instanceof Date) return undefined
      if (isPlainObject(value)) return undefined
      const name = (Object.getPrototypeOf(value)?.constructor as { name?: string } | undefined)?.name
      return name === undefined || name === '' ? 'an object with a prototype' : `a ${name}`
    }
    default:
      return `a ${typeof value}`
  }
}

/**
 * Where `value` holds something JSON would not give back as it is, as "path: what", or undefined when
 * it round-trips. Object keys whose value is undefined are dropped by JSON, as the schema allows.
 */
export function jsonProblem (value: unknown, path: string, seen: Set<object> = new Set()): string | undefined {
  const what = describe(value)
  if (what !== undefined) {
    const hint = what === 'a bigint' ? ' (store it as a string)' : what === 'a Map' || what === 'a Set' ? ' (store an object or an array)' : ''
    return `${path}: ${what} cannot be stored as JSON${hint}`
  }
  if (value === null || typeof value !== 'object') return undefined
  if (seen.has(value)) return `${path}: a circular reference cannot be stored as JSON`
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) return `${path}.${i}: undefined in an array becomes null in JSON`
      const problem = jsonProblem(value[i], `${path}.${i}`, seen)
      if (problem !== undefined) return problem
    }
  } else {
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key]
      if (item === undefined) continue
      const problem = jsonProblem(item, `${path}.${key}`, seen)
      if (problem !== undefined) return problem
    }
  }
  seen.delete(value)
  return undefined
}

// What every store can carry as it is. A value the schema and JSON accept may still be one a backend
// cannot hold (PostgreSQL's jsonb and text refuse NUL and lone surrogates, MongoDB's BSON refuses NUL in
// keys and replaces lone surrogates, MongoDB's update paths cannot name a key with '.' or a leading '$',
// a deep value exhausts the stack of whoever walks it) or one that would not be a plain key of the data
// (`__proto__`). Such a value is refused at set() on every store, with a 400: it is what a client sent,
// not an outage and not a bug of the app.

/** how deep a session value may nest (objects and arrays, the value itself counted): under MongoDB's and MySQL's 100, within what json-tree copies */
export const MAX_NESTING = 64
/** top-level session keys that name the prototype machinery of an object */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])
/** the codec writes a Date as an object whose only key is this one */
const DATE_MARKER = '$date'

/** the characters some backend cannot carry; most strings hold none and cost one scan */
const SUSPECT = /[\0\ud800-\udfff]/

/** why `text` cannot be stored as it is on every store, or undefined */
export function stringRefusal (text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined
  if (text.includes('\0')) return 'a NUL character (U+0000), which PostgreSQL and MongoDB cannot store'
  return hasLoneSurrogate(text) ? 'a lone surrogate (half of a UTF-16 pair, not a character), which PostgreSQL and MongoDB cannot store' : undefined
}

/** whether `key` is one of the top-level keys a session never holds (`__proto__`, `constructor`, `prototype`) */
export function isReservedKey (key: string): boolean {
  return RESERVED_KEYS.has(key)
}

/** why `key` cannot be a top-level key of session data, or undefined */
export function keyRefusal (key: string): string | undefined {
  if (RESERVED_KEYS.has(key)) return `"${key}" cannot be a session key (it names the prototype machinery of an object)`
  if (key === '' || key.includes('.') || key.startsWith('$')) return `${JSON.stringify(key)} cannot be a session key: keys are non-empty, without '.', and do not start with '$' (MongoDB's field paths)`
  const problem = stringRefusal(key)
  return problem === undefined ? undefined : `the session key ${JSON.stringify(key)} holds ${problem}`
}

interface Found { path: string[], what: string }

/**
 * Walks arrays and plain objects (not Dates, not class instances: those are jsonProblem's) at most
 * MAX_NESTING deep, so it never exhausts the stack itself. `ancestors` holds the containers above.
 */
function refusal (value: unknown, ancestors: object[]): Found | undefined {
  if (typeof value === 'string') {
    const what = stringRefusal(value)
    return what === undefined ? undefined : { path: [], what: `holds ${what}` }
  }
  if (value === null || typeof value !== 'object' || value instanceof Date) return undefined
  const array = Array.isArray(value)
  if (!array && !isPlainObject(value)) return undefined
  if (ancestors.includes(value)) return { path: [], what: 'a circular reference cannot be stored as JSON' }
  if (ancestors.length >= MAX_NESTING) return { path: [], what: `nested deeper than ${MAX_NESTING} levels (the limit of session values)` }
  ancestors.push(value)
  let found: Found | undefined
  if (array) {
    for (let i = 0; i < value.length && found === undefined; i++) found = within(String(i), refusal(value[i], ancestors))
  } else {
    const keys = Object.keys(value)
    if (keys.length === 1 && keys[0] === DATE_MARKER) {
      found = { path: [], what: `an object whose only key is "${DATE_MARKER}" is how the stores write a Date: it would come back as one` }
    }
    for (let i = 0; i < keys.length && found === undefined; i++) {
      const key = keys[i]
      if (key === '__proto__') found = { path: [key], what: 'a "__proto__" key cannot be stored (it would set the prototype of whatever copies it)' }
      else {
        const what = stringRefusal(key)
        found = what === undefined ? within(key, refusal((value as Record<string, unknown>)[key], ancestors)) : { path: [key], what: `the key holds ${what}` }
      }
    }
  }
  ancestors.pop()
  return found
}

/** `found` one level down, under `key` (the path is built innermost first) */
function within (key: string, found: Found | undefined): Found | undefined {
  found?.path.push(key)
  return found
}

/**
 * Why `value` (the value of the session key at `path`) cannot be stored as it is on every store:
 * a string holding NUL or a lone surrogate (in a value or a key), a `__proto__` key, a Date-marker
 * object, or nesting deeper than MAX_NESTING. Undefined when it can.
 */
export function valueRefusal (value: unknown, path: string): string | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'string')) return undefined // numbers, booleans: nothing to walk
  const found = refusal(value, [])
  if (found === undefined) return undefined
  const at = found.path.reverse()
  // a path down a deep value is cut short: its start says where it is
  const shown = at.length > 6 ? [...at.slice(0, 3), '…'] : at
  return `${[path, ...shown].join('.')}: ${found.what}`
}

/** keyRefusal and valueRefusal for every key of `data` */
export function dataRefusal (data: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(data)) {
    const problem = keyRefusal(key) ?? valueRefusal(data[key], key)
    if (problem !== undefined) return problem
  }
  return undefined
}
