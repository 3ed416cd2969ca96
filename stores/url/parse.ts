// Parses a storage URL (`store: 'redis://…'`) into what the store openers need. Every failure names
// the offending part and never repeats the password.

import { memcachedPrefixProblem } from '../memcached.js'

export type StoreKind = 'memory' | 'file' | 'dir' | 'redis' | 'redis-cluster' | 'mysql' | 'postgres' | 'mongodb' | 'memcached'

export interface StoreUrl {
  kind: StoreKind
  /** the URL with its password replaced by '***': safe for logs and errors */
  redacted: string
  /** file and dir: an absolute path */
  path?: string
  hosts: Array<{ host: string, port: number }>
  username?: string
  password?: string
  /** the password as written in the URL and decoded: what error messages must never show */
  secrets: string[]
  /** redis db number, mysql/mongodb database name */
  database?: string
  tls: boolean
  /** query parameters */
  params: Record<string, string>
  /** mongodb: the URL for the driver, without our own parameters */
  driverUrl?: string
}

/** timeouts in ms: a store that stops answering fails fast (see the README's "Storage URLs") */
const REDIS_PARAMS = ['prefix', 'connectTimeout', 'commandTimeout']
const MYSQL_PARAMS = ['table', 'createTable', 'prefix', 'connectionLimit', 'connectTimeout', 'queryTimeout']
const POSTGRES_PARAMS = ['table', 'createTable', 'unlogged', 'prefix', 'max', 'ssl', 'connectTimeout', 'statementTimeout', 'queryTimeout']

const SCHEMES: Record<string, { kind: StoreKind, port?: number, tls?: boolean, params: readonly string[] }> = {
  memory: { kind: 'memory', params: ['maxEntries', 'prefix'] },
  file: { kind: 'file', params: ['prefix', 'fsync', 'compactAfter'] },
  dir: { kind: 'dir', params: ['prefix', 'fsync'] },
  redis: { kind: 'redis', port: 6379, params: REDIS_PARAMS },
  rediss: { kind: 'redis', port: 6379, tls: true, params: REDIS_PARAMS },
  'redis+cluster': { kind: 'redis-cluster', port: 6379, params: REDIS_PARAMS },
  'rediss+cluster': { kind: 'redis-cluster', port: 6379, tls: true, params: REDIS_PARAMS },
  mysql: { kind: 'mysql', port: 3306, params: MYSQL_PARAMS },
  mariadb: { kind: 'mysql', port: 3306, params: MYSQL_PARAMS },
  postgres: { kind: 'postgres', port: 5432, params: POSTGRES_PARAMS },
  postgresql: { kind: 'postgres', port: 5432, params: POSTGRES_PARAMS },
  mongodb: { kind: 'mongodb', port: 27017, params: ['collection', 'prefix'] },
  'mongodb+srv': { kind: 'mongodb', params: ['collection', 'prefix'] },
  memcached: { kind: 'memcached', port: 11211, params: ['prefix'] }
}

export const STORE_SCHEMES: readonly string[] = Object.keys(SCHEMES)

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

/** parameters that take a count or milliseconds: checked with the URL, so a bad one fails app.ready() as an option error */
const POSITIVE_INTEGERS = new Set(['maxEntries', 'compactAfter', 'connectTimeout', 'commandTimeout', 'connectionLimit', 'queryTimeout', 'max', 'statementTimeout'])

function queryParams (raw: string | undefined, allowed: readonly string[], scheme: string): { ours: Record<string, string>, rest: string } {
  const ours: Record<string, string> = {}
  const rest: string[] = []
  for (const pair of (raw ?? '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decode(eq === -1 ? pair : pair.slice(0, eq), 'query parameter')
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1), `query parameter ${name}`)
    if (allowed.includes(name)) {
      if (POSITIVE_INTEGERS.has(name) && !/^[1-9]\d{0,9}$/.test(value)) {
        throw new StoreUrlError(`query parameter ${name}`, `must be a positive integer (got ${JSON.stringify(value)})`)
      }
      ours[name] = value
    } else if (scheme.startsWith('mongodb')) rest.push(pair)
    else throw new StoreUrlError(`query parameter ${JSON.stringify(name)}`, `is not known for ${scheme}:// (known: ${allowed.join(', ')})`)
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
  const spec = SCHEMES[scheme]
  if (spec === undefined) throw new StoreUrlError('scheme', `${JSON.stringify(scheme + '://')} is not supported (schemes: ${STORE_SCHEMES.join(', ')})`)
  const { ours, rest } = queryParams(query, spec.params, scheme)
  const result: StoreUrl = { kind: spec.kind, redacted: redactUrl(url), hosts: [], tls: spec.tls ?? false, params: ours, secrets: [] }
  if (user !== undefined && user !== '') result.username = decode(user, 'username')
  if (password !== undefined) {
    result.password = decode(password, 'password')
    result.secrets = [...new Set([password, result.password])].filter(s => s !== '')
  }

  switch (spec.kind) {
    case 'memory':
      if (hosts !== '' || (path !== '' && path !== '/')) throw new StoreUrlError('host', 'must be empty: memory:// takes no host or path')
      break
    case 'file':
    case 'dir':
      if (user !== undefined) throw new StoreUrlError('username', `is not allowed in ${scheme}://`)
      result.path = filePath(hosts, path, scheme)
      break
    case 'redis': {
      result.hosts = hostList(hosts, spec.port, true)
      const db = path.replace(/^\//, '')
      if (db !== '' && !/^\d{1,5}$/.test(db)) throw new StoreUrlError('database', `${JSON.stringify(db)} is not a redis database number`)
      if (db !== '') result.database = db
      break
    }
    case 'redis-cluster':
    case 'memcached':
      result.hosts = hostList(hosts, spec.port, false)
      if (path !== '' && path !== '/') throw new StoreUrlError('path', `must be empty for ${scheme}://`)
      if (spec.kind === 'memcached' && user !== undefined) throw new StoreUrlError('username', 'is not supported by memcached://')
      if (spec.kind === 'memcached' && ours.prefix !== undefined) {
        const problem = memcachedPrefixProblem(ours.prefix)
        if (problem !== undefined) throw new StoreUrlError('query parameter prefix', problem)
      }
      break
    case 'mysql':
    case 'postgres': {
      result.hosts = hostList(hosts, spec.port, true)
      const db = decode(path.replace(/^\//, ''), 'database')
      if (db === '' || db.includes('/')) throw new StoreUrlError('database', `is missing: ${scheme}://user:password@host[:port]/database`)
      result.database = db
      break
    }
    case 'mongodb': {
      result.hosts = hostList(hosts, spec.port, scheme === 'mongodb+srv')
      const db = decode(path.replace(/^\//, ''), 'database')
      if (db.includes('/')) throw new StoreUrlError('database', `${JSON.stringify(db)} is not a database name`)
      if (db !== '') result.database = db
      result.driverUrl = url.replace(/\?.*$/, '') + (rest === '' ? '' : '?' + rest)
      break
    }
  }
  return result
}
