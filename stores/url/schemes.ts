// The storage URL schemes: one line per store. A line says what parse.ts checks (the schemes with
// their default port and TLS, the URL's form, the query parameters) and how open.ts opens it (the
// store's own `fromUrl`, imported only when its scheme is used: parsing a URL loads no store).
// A new store adds its line here; which options its URL maps to is written in its own file.
import type { OpenedFromUrl, StoreUrl } from '../kit/url.js'
import { memcachedPrefixProblem } from '../kit/memcached-key.js'
import { PREFIX_RULES, prefixProblem, type PrefixRule } from '../kit/text.js'
import { redisLayoutProblem } from '../redis/layout.js'

/**
 * What a URL holds between `scheme://` and `?` (parse.ts checks each form):
 * - `empty`: nothing
 * - `path`: a file or folder path (file:///abs, file://relative), no username
 * - `hosts`: host[:port], several comma-separated, no path
 * - `host/db-number`: one host, then an optional database number (/2)
 * - `host/database`: one host, then a database name, required
 * - `hosts/database?`: hosts, then an optional database name
 */
export type UrlForm = 'empty' | 'path' | 'hosts' | 'host/db-number' | 'host/database' | 'hosts/database?'

/** a query parameter: any text, a positive integer (a count or milliseconds), or text a check accepts (it names the problem) */
export type ParamRule = 'text' | 'count' | ((value: string) => string | undefined)

export interface SchemeRow {
  /** each scheme: its default port, whether it means TLS, whether it takes one host only */
  schemes: Record<string, { port?: number, tls?: true, oneHost?: true }>
  form: UrlForm
  /** the query parameters the store takes, in the order errors list them */
  params: Record<string, ParamRule>
  /** false: the backend has no username */
  username?: false
  /** unknown query parameters are the driver's (kept in StoreUrl.driverUrl) rather than an error */
  driverParams?: true
  /** the store and the client created for it */
  open: (url: StoreUrl) => Promise<OpenedFromUrl>
}

/** a `prefix` parameter checked by its backend's rule when the URL is parsed */
const prefixUnder = (rule: PrefixRule) => (prefix: unknown): string | undefined => prefixProblem(prefix, rule)

const REDIS_PARAMS = { prefix: prefixUnder(PREFIX_RULES.redis), layout: redisLayoutProblem, connectTimeout: 'count', commandTimeout: 'count' } as const

export const STORES = {
  memory: { schemes: { memory: {} }, form: 'empty', params: { maxEntries: 'count', prefix: 'text' }, open: async url => await (await import('../memory.js')).fromUrl(url) },
  file: { schemes: { file: {} }, form: 'path', params: { prefix: 'text', fsync: 'text', compactAfter: 'count' }, open: async url => await (await import('../file.js')).fromUrl(url) },
  dir: { schemes: { dir: {} }, form: 'path', params: { prefix: 'text', fsync: 'text' }, open: async url => await (await import('../directory.js')).fromUrl(url) },
  redis: { schemes: { redis: { port: 6379 }, rediss: { port: 6379, tls: true } }, form: 'host/db-number', params: REDIS_PARAMS, open: async url => await (await import('../redis/url.js')).fromUrl(url) },
  'redis-cluster': { schemes: { 'redis+cluster': { port: 6379 }, 'rediss+cluster': { port: 6379, tls: true } }, form: 'hosts', params: REDIS_PARAMS, open: async url => await (await import('../redis/url.js')).fromClusterUrl(url) },
  mysql: { schemes: { mysql: { port: 3306 }, mariadb: { port: 3306 } }, form: 'host/database', params: { table: 'text', createTable: 'text', prefix: prefixUnder(PREFIX_RULES.mysql), connectionLimit: 'count', connectTimeout: 'count', queryTimeout: 'count' }, open: async url => await (await import('../mysql.js')).fromUrl(url) },
  postgres: { schemes: { postgres: { port: 5432 }, postgresql: { port: 5432 } }, form: 'host/database', params: { table: 'text', createTable: 'text', unlogged: 'text', prefix: prefixUnder(PREFIX_RULES.postgres), max: 'count', ssl: 'text', connectTimeout: 'count', statementTimeout: 'count', queryTimeout: 'count' }, open: async url => await (await import('../postgres.js')).fromUrl(url) },
  mongodb: { schemes: { mongodb: { port: 27017 }, 'mongodb+srv': { oneHost: true } }, form: 'hosts/database?', params: { collection: 'text', prefix: prefixUnder(PREFIX_RULES.mongodb) }, driverParams: true, open: async url => await (await import('../mongodb.js')).fromUrl(url) },
  memcached: { schemes: { memcached: { port: 11211 } }, form: 'hosts', params: { prefix: memcachedPrefixProblem }, username: false, open: async url => await (await import('../memcached.js')).fromUrl(url) }
} satisfies Record<string, SchemeRow>

export type StoreKind = keyof typeof STORES
