// Parses a storage URL (`store: 'redis://…'`) into what the store openers need. Every failure names
// the offending part and never repeats the password.

import type { StoreUrl as AnyStoreUrl } from '../kit/url.js'
import { STORES, type SchemeRow, type StoreKind } from './schemes.js'

export type { StoreKind }
/** a parsed storage URL (its fields are described in stores/kit/url.ts) */
export interface StoreUrl extends AnyStoreUrl {
  kind: StoreKind
}

/** each scheme with the line of its store */
const SCHEMES = new Map<string, { kind: StoreKind, row: SchemeRow, port?: number, tls?: true, oneHost?: true }>()
for (const [kind, row] of Object.entries(STORES) as Array<[StoreKind, SchemeRow]>) {
  for (const [scheme, spec] of Object.entries(row.schemes)) SCHEMES.set(scheme, { kind, row, ...spec })
}

export const STORE_SCHEMES: readonly string[] = [...SCHEMES.keys()]

// scheme://[user[:password]@]hosts[/path][?query]
const URL_RE = /^([a-z][a-z0-9+.-]*):\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i

export class StoreUrlError extends Error {
  constructor (readonly part: string, why: string) {
    super(`${part} ${why}`)
  }
}

function decode (value: string, part: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    throw new StoreUrlError(part, 'is not valid percent-encoding')
  }
}

function hostList (raw: string, defaultPort: number | undefined, single: boolean): StoreUrl['hosts'] {
  if (raw === '') throw new StoreUrlError('host', 'is missing')
  const list = raw.split(',')
  if (single && list.length > 1) throw new StoreUrlError('host', `takes one host (got ${list.length}); several are for redis+cluster:// and memcached://`)
  return list.map(entry => {
    const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::([^:]*))?$/i.exec(entry)
    if (m === null) throw new StoreUrlError('host', `${JSON.stringify(entry)} is not host[:port]`)
    const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1]
    if (m[2] === undefined) {
      if (defaultPort === undefined) return { host, port: 0 }
      return { host, port: defaultPort }
    }
    const port = Number(m[2])
    if (!/^\d{1,5}$/.test(m[2]) || port < 1 || port > 65535) throw new StoreUrlError('port', `${JSON.stringify(m[2])} of ${host} is not a port number (1-65535)`)
    return { host, port }
  })
}

function queryParams (raw: string | undefined, row: SchemeRow, scheme: string): { ours: Record<string, string>, rest: string } {
  const ours: Record<string, string> = {}
  const rest: string[] = []
  for (const pair of (raw ?? '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decode(eq === -1 ? pair : pair.slice(0, eq), 'query parameter')
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1), `query parameter ${name}`)
    if (Object.hasOwn(row.params, name)) {
      if (row.params[name] === 'count' && !/^[1-9]\d{0,9}$/.test(value)) {
        throw new StoreUrlError(`query parameter ${name}`, `must be a positive integer (got ${JSON.stringify(value)})`)
      }
      ours[name] = value
    } else if (row.driverParams === true) rest.push(pair)
    else throw new StoreUrlError(`query parameter ${JSON.stringify(name)}`, `is not known for ${scheme}:// (known: ${Object.keys(row.params).join(', ')})`)
  }
  return { ours, rest: rest.join('&') }
}

function filePath (hosts: string, path: string, scheme: string): string {
  // file:///abs/path, or file://relative/path resolved against the working directory
  const raw = decode(hosts + path, 'path')
  if (raw === '' || raw === '/') throw new StoreUrlError('path', `is missing: ${scheme}:///absolute/path or ${scheme}://relative/path`)
  return raw
}

export function isStoreUrl (value: unknown): value is StoreUrl {
  return typeof value === 'object' && value !== null && typeof (value as StoreUrl).kind === 'string' && typeof (value as StoreUrl).redacted === 'string'
}

/** The URL with its password (if any) replaced by '***'. */
export function redactUrl (url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:)[^@/?#]*@/i, '$1***@')
}

export function parseStoreUrl (url: string): StoreUrl {
  const m = URL_RE.exec(url)
  if (m === null) throw new StoreUrlError('URL', `must look like scheme://[user[:password]@]host[:port][/path][?options] (schemes: ${STORE_SCHEMES.join(', ')})`)
  const [, schemeRaw, user, password, hosts, path, query] = m
  const scheme = schemeRaw.toLowerCase()
  const spec = SCHEMES.get(scheme)
  if (spec === undefined) throw new StoreUrlError('scheme', `${JSON.stringify(scheme + '://')} is not supported (schemes: ${STORE_SCHEMES.join(', ')})`)
  const { row } = spec
  const { ours, rest } = queryParams(query, row, scheme)
  const result: StoreUrl = { kind: spec.kind, redacted: redactUrl(url), hosts: [], tls: spec.tls ?? false, params: ours, secrets: [] }
  if (user !== undefined && user !== '') result.username = decode(user, 'username')
  if (password !== undefined) {
    result.password = decode(password, 'password')
    result.secrets = [...new Set([password, result.password])].filter(s => s !== '')
  }

  switch (row.form) {
    case 'empty':
      if (hosts !== '' || (path !== '' && path !== '/')) throw new StoreUrlError('host', `must be empty: ${scheme}:// takes no host or path`)
      break
    case 'path':
      if (user !== undefined) throw new StoreUrlError('username', `is not allowed in ${scheme}://`)
      result.path = filePath(hosts, path, scheme)
      break
    case 'host/db-number': {
      result.hosts = hostList(hosts, spec.port, true)
      const db = path.replace(/^\//, '')
      if (db !== '' && !/^\d{1,5}$/.test(db)) throw new StoreUrlError('database', `${JSON.stringify(db)} is not a ${spec.kind} database number`)
      if (db !== '') result.database = db
      break
    }
    case 'hosts':
      result.hosts = hostList(hosts, spec.port, false)
      if (path !== '' && path !== '/') throw new StoreUrlError('path', `must be empty for ${scheme}://`)
      break
    case 'host/database': {
      result.hosts = hostList(hosts, spec.port, true)
      const db = decode(path.replace(/^\//, ''), 'database')
      if (db === '' || db.includes('/')) throw new StoreUrlError('database', `is missing: ${scheme}://user:password@host[:port]/database`)
      result.database = db
      break
    }
    case 'hosts/database?': {
      result.hosts = hostList(hosts, spec.port, spec.oneHost === true)
      const db = decode(path.replace(/^\//, ''), 'database')
      if (db.includes('/')) throw new StoreUrlError('database', `${JSON.stringify(db)} is not a database name`)
      if (db !== '') result.database = db
      break
    }
  }
  if (row.username === false && user !== undefined) throw new StoreUrlError('username', `is not supported by ${scheme}://`)
  for (const [name, rule] of Object.entries(row.params)) {
    const problem = typeof rule === 'function' && ours[name] !== undefined ? rule(ours[name]) : undefined
    if (problem !== undefined) throw new StoreUrlError(`query parameter ${name}`, problem)
  }
  if (row.driverParams === true) result.driverUrl = url.replace(/\?.*$/, '') + (rest === '' ? '' : '?' + rest)
  return result
}
