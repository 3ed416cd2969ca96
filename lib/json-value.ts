// Sessions are stored as JSON (Dates included: the stores' codec revives them). A value JSON cannot
// carry (a Map, a Set, a bigint, a class instance) would come back as something else and fail the
// schema on the next request.
import { isPlainObject } from '../stores/kit/json-tree.js'

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
