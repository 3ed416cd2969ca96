// A throw-away PostgreSQL 15 for the store tests: initdb once into a cached template, then a copy per
// server (about 0.3 s), a random loopback port, fsync off (commits still reach the OS, so a SIGKILL
// loses nothing), killed with all its processes. PostgreSQL refuses to run as root, so as root the server
// runs as the `postgres` user the Debian package creates. Plain JS: `npm run bench` starts one too.
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { chownSync, cpSync, existsSync, mkdtempSync, renameSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'

/** a port nothing listens on (bench/ imports this file too, so it needs nothing from the TS helpers) */

async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
  })
}

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']

function pgBinary (name) {
  const found = BIN_DIRS.map(dir => join(dir, name)).find(existsSync)
  if (found === undefined) { throw new Error(`PostgreSQL's ${name} not found in ${BIN_DIRS.join(', ')}: install it with \`apt-get install postgresql\` (.ci/run does this)`) }
  return found
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

function template (user) {
  const initdb = pgBinary('initdb')
  const path = join(tmpdir(), `fzs-postgres-template-${initdb.split('/')[4]}-${process.getuid?.() ?? 0}`)
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

/** the port opens before recovery ends ("the database system is starting up"): wait for pg_isready */

async function acceptingQueries (port) {
  const isReady = pgBinary('pg_isready')
  const deadline = Date.now() + 15_000
  while (spawnSync(isReady, ['-q', '-h', '127.0.0.1', '-p', String(port)]).status !== 0) {
    if (Date.now() > deadline) { throw new Error(`PostgreSQL on port ${port} did not accept connections within 15 s`) }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export async function startPostgres () {
  if (process.env.POSTGRES_URL) {
    const url = process.env.POSTGRES_URL
    return { port: Number(new URL(url).port), url, process: null, dir: null, kill: async () => { }, restart: async () => { }, stop: async () => { } }
  }
  const postgres = pgBinary('postgres')
  const user = runAs()
  const source = template(user)
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fzs-postgres-'))
  cpSync(source, join(dir, 'data'), { recursive: true })
  chownTree(dir, user)
  const args = ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
    '-c', 'full_page_writes=off', '-c', 'max_connections=200', '-c', 'shared_buffers=32MB']
  const server = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    process: null,
    dir,
    kill: async () => { await killAll(server.process) },
    restart: async () => {
      await killAll(server.process)
      rmSync(join(dir, 'data', 'postmaster.pid'), { force: true })
      server.process = spawn(postgres, args, { stdio: 'ignore', cwd: dir, ...user })
      await acceptingQueries(port)
    },
    stop: async () => {
      await killAll(server.process)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  await server.restart()
  return server
}
