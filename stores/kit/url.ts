// What a store needs to open itself from a storage URL (`store: 'redis://…'`): the parsed URL
// (stores/url/parse.ts makes it) and the helpers every store's URL opener shares. Each store owns
// its opener (which options its URL maps to, their defaults, the client it creates); stores/url
// only lists the schemes and calls the opener.
import type { SessionStore } from '../../types/index.js'

export interface StoreUrl {
  /** the store the scheme names (a key of stores/url/schemes.ts) */
  kind: string
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

/** A store opened from a URL, and how to close the client made for it (none when the store owns it). */
export interface OpenedFromUrl {
  store: SessionStore
  client?: () => Promise<unknown>
}

/**
 * Imports a driver package, an optional dependency of the user's app: loaded only when its scheme
 * is used, and a missing one names its package.
 */
export async function driver<T> (specifier: string, scheme: string): Promise<T> {
  try {
    return await import(specifier) as T
  } catch (err) {
    const pkg = specifier.split('/')[0]
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${pkg}`)) {
      throw new Error(`${scheme} URLs need the ${pkg} package: npm install ${pkg}`)
    }
    throw err
  }
}

/** a boolean parameter: present without a value, 'true' or '1' */
export const flag = (value: string | undefined): boolean | undefined => value === undefined ? undefined : value === '' || value === 'true' || value === '1'

/** a parameter parseStoreUrl checked to be a positive integer */
export const positive = (value: string | undefined): number | undefined => value === undefined ? undefined : Number(value)
