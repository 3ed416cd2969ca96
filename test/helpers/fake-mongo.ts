// An in-process FAKE of the few MongoDB Collection methods MongoStore calls (SessionCollection),
// with MongoDB's semantics for them: $set/$unset on dotted paths, upsert, $or, $gt/$lte on Dates
// (null and missing never compare), null matching missing, $ne, $regex, $exists, $and, $not. Used only when no
// MongoDB server is given through MONGODB_URL; it is not a MongoDB.
import type { SessionCollection, SessionDocument } from '../../stores/mongodb.js'

type Doc = Record<string, unknown>

function compare (a: unknown, b: unknown): number | null {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime()
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  return null // different BSON types do not compare
}

function equal (a: unknown, b: unknown): boolean {
  if (b === null) return a === null || a === undefined
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime()
  return a === b
}

function matchValue (value: unknown, condition: unknown): boolean {
  if (condition !== null && typeof condition === 'object' && !(condition instanceof Date)) {
    return Object.entries(condition).every(([op, arg]) => {
      const order = compare(value, arg)
      switch (op) {
        case '$gt': return order !== null && order > 0
        case '$lte': return order !== null && order <= 0
        case '$ne': return !equal(value, arg)
        case '$regex': return typeof value === 'string' && new RegExp(arg as string).test(value)
        case '$exists': return (value !== undefined) === arg
        // MongoDB's $not: the negation of the inner condition, so a missing field or another type (which
        // $gt never matches) matches it
        case '$not': return !matchValue(value, arg)
        default: throw new Error(`fake-mongo: operator ${op} not supported`)
      }
    })
  }
  return equal(value, condition)
}

function getPath (doc: Doc, path: string): unknown {
  let value: unknown = doc
  for (const part of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Doc)[part] : undefined
  return value
}

export function matches (doc: Doc, filter: Doc): boolean {
  return Object.entries(filter).every(([key, condition]) => key === '$or'
    ? (condition as Doc[]).some(sub => matches(doc, sub))
    : key === '$and'
      ? (condition as Doc[]).every(sub => matches(doc, sub))
      : matchValue(getPath(doc, key), condition))
}

function setPath (doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.')
  let target = doc
  for (const part of parts.slice(0, -1)) {
    if (target[part] === null || typeof target[part] !== 'object') target[part] = {}
    target = target[part] as Doc
  }
  target[parts[parts.length - 1]] = value
}

function unsetPath (doc: Doc, path: string): void {
  const parts = path.split('.')
  let target = doc
  for (const part of parts.slice(0, -1)) {
    if (target[part] === null || typeof target[part] !== 'object') return
    target = target[part] as Doc
  }
  delete target[parts[parts.length - 1]]
}

export class FakeSessionCollection implements SessionCollection {
  readonly docs = new Map<string, Doc>()
  readonly indexes: Array<{ spec: Record<string, number>, options?: Doc }> = []

  #find (filter: Doc): Doc[] {
    return [...this.docs.values()].filter(doc => matches(doc, filter))
  }

  async findOne (filter: Doc): Promise<SessionDocument | null> {
    const [doc] = this.#find(filter)
    return doc === undefined ? null : structuredClone(doc) as unknown as SessionDocument
  }

  async replaceOne (filter: Doc, replacement: Doc, options: { upsert: true }): Promise<{ matchedCount: number }> {
    if (typeof filter._id !== 'string') throw new Error('fake-mongo: replaceOne by _id only')
    if ('_id' in replacement) throw new Error('fake-mongo: the replacement must not carry _id')
    const existing = this.#find(filter)[0]
    if (existing === undefined && options.upsert !== true) return { matchedCount: 0 }
    if (existing === undefined && this.docs.has(filter._id)) {
      // the upsert inserts, and the _id index refuses the document the filter did not match
      throw Object.assign(new Error(`E11000 duplicate key error collection: sessions index: _id_ dup key: { _id: "${filter._id}" }`), { code: 11000 })
    }
    this.docs.set(filter._id, { _id: filter._id, ...structuredClone(replacement) })
    return { matchedCount: existing === undefined ? 0 : 1 }
  }

  async updateOne (filter: Doc, update: Record<string, Doc>): Promise<{ matchedCount: number }> {
    for (const op of Object.keys(update)) if (op !== '$set' && op !== '$unset' && op !== '$inc') throw new Error(`fake-mongo: ${op} not supported`)
    for (const [op, fields] of Object.entries(update)) if (Object.keys(fields).length === 0) throw new Error(`'${op}' is empty. You must specify a field like so: {${op}: {<field>: ...}}`)
    const setPaths = Object.keys(update.$set ?? {})
    for (const path of Object.keys(update.$unset ?? {})) {
      if (setPaths.some(p => p === path || p.startsWith(path + '.') || path.startsWith(p + '.'))) throw new Error(`Updating the path '${path}' would create a conflict`)
    }
    const [doc] = this.#find(filter)
    if (doc === undefined) return { matchedCount: 0 }
    for (const [path, value] of Object.entries(update.$set ?? {})) setPath(doc, path, structuredClone(value))
    for (const path of Object.keys(update.$unset ?? {})) unsetPath(doc, path)
    for (const [path, by] of Object.entries(update.$inc ?? {})) {
      const current = getPath(doc, path)
      if (current !== undefined && typeof current !== 'number') throw new Error(`Cannot apply $inc to a value of non-numeric type. {_id: "${String(doc._id)}"} has the field '${path}' of non-numeric type`)
      setPath(doc, path, (current ?? 0) + (by as number))
    }
    return { matchedCount: 1 }
  }

  async deleteOne (filter: Doc): Promise<{ deletedCount: number }> {
    const [doc] = this.#find(filter)
    if (doc !== undefined) this.docs.delete(doc._id as string)
    return { deletedCount: doc === undefined ? 0 : 1 }
  }

  async deleteMany (filter: Doc): Promise<{ deletedCount: number }> {
    const found = this.#find(filter)
    for (const doc of found) this.docs.delete(doc._id as string)
    return { deletedCount: found.length }
  }

  /** driver 6+: the document as it was (projected), or null; atomic, as on the server */
  async findOneAndDelete (filter: Doc, options: { projection: Record<string, 0 | 1> }): Promise<{ _id: string, owner?: string | null } | null> {
    const [doc] = this.#find(filter)
    if (doc === undefined) return null
    this.docs.delete(doc._id as string)
    const out: Doc = {}
    for (const key of ['_id', ...Object.keys(options.projection)]) if (doc[key] !== undefined) out[key] = structuredClone(doc[key])
    return out as { _id: string, owner?: string | null }
  }

  find (filter: Doc, options: { projection: Record<string, 0 | 1> }): { toArray: () => Promise<Array<{ _id: string }>> } {
    const keys = ['_id', ...Object.keys(options.projection)]
    // inclusion projection, dotted paths included ('meta.rotatedTo' → { meta: { rotatedTo } }), as the server does
    const project = (doc: Doc): Doc => {
      const out: Doc = {}
      for (const key of keys) {
        const path = key.split('.')
        let from: any = doc
        for (const part of path) from = from?.[part]
        if (from === undefined) continue
        let to: Doc = out
        for (const part of path.slice(0, -1)) to = (to[part] ??= {}) as Doc
        to[path[path.length - 1]] = structuredClone(from)
      }
      return out
    }
    return { toArray: async () => this.#find(filter).map(doc => project(doc) as { _id: string }) }
  }

  async createIndex (spec: Record<string, 1 | -1>, options?: Doc): Promise<string> {
    this.indexes.push({ spec, options })
    return String(options?.name ?? Object.keys(spec).join('_'))
  }
}
