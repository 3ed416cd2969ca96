// Throw-away servers for the store tests: real binaries from Debian packages (found as
// system-servers.mjs says; `npm test`'s setup step installs them), on loopback, random free ports, temp
// dirs, stopped by pid when the test ends. A missing binary FAILS the test with the package to install:
// never a silent skip.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createServer, connect } from 'node:net'
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBinary } from './system-servers.mjs'

export function binary (name: string, pkg: string): string {
  const found = findBinary(name)
  if (found === undefined) throw new Error(`${name} not found: install it with \`apt-get install ${pkg}\` (\`npm test\` does this as root)`)
  return found
}

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export class ExitedBeforeListening extends Error {}

/** Resolves once the port accepts connections; rejects at once when `child` exits first (a port taken meanwhile). */
export async function waitForPort (port: number, timeoutMs = 10_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new ExitedBeforeListening(`the server meant for 127.0.0.1:${port} exited (${child.exitCode ?? child.signalCode}) before it listened`)
    }
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export interface Server {
  port: number
  url: string
  process: ChildProcess | null
  dir: string | null
  /** SIGKILL the server (for outage tests) */
  kill: () => Promise<void>
  /** start it again on the same port and folder */
  restart: () => Promise<void>
  stop: () => Promise<void>
}

async function killed (child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/**
 * Starts `command args` (args may use the port, and `busPort`, a second free port), returns once the port
 * accepts connections. A free port can be taken by another test file between the probe and the spawn: a
 * server that exits before it listens is started again on new ports (a restart keeps its ports).
 */
export async function startServer (name: string, pkg: string, args: (port: number, dir: string, busPort: number) => string[], scheme: string): Promise<Server> {
  const bin = binary(name, pkg)
  const dir = mkdtempSync(join(tmpdir(), `fzs-${name}-`))
  let port = 0
  let busPort = 0
  const server: Server = {
    port,
    url: '',
    process: null,
    dir,
    kill: async () => { await killed(server.process) },
    restart: async () => {
      await killed(server.process)
      server.process = spawn(bin, args(port, dir, busPort), { stdio: 'ignore', cwd: dir })
      await waitForPort(port, 10_000, server.process)
    },
    stop: async () => {
      await killed(server.process)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    busPort = await freePort()
    Object.assign(server, { port, url: `${scheme}://127.0.0.1:${port}` })
    try {
      await server.restart()
      return server
    } catch (err) {
      if (!(err instanceof ExitedBeforeListening) || attempt === 5) {
        await server.stop()
        throw err
      }
    }
  }
}

const external = (url: string): Server => ({
  port: Number(new URL(url).port), url, process: null, dir: null, kill: async () => {}, restart: async () => {}, stop: async () => {}
})

export async function startRedis (): Promise<Server> {
  if (process.env.REDIS_URL) return external(process.env.REDIS_URL)
  return startServer('redis-server', 'redis-server', port => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], 'redis')
}

export async function startMemcached (): Promise<Server> {
  if (process.env.MEMCACHED_URL) return external(process.env.MEMCACHED_URL)
  return startServer('memcached', 'memcached', port => ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-u', 'root'], 'memcached')
}

/** Three masters, no replicas: one cluster per test file, not per test. */
export async function startRedisCluster (): Promise<{ nodes: Array<{ host: string, port: number }>, stop: () => Promise<void> }> {
  if (process.env.REDIS_CLUSTER_NODES) {
    const nodes = process.env.REDIS_CLUSTER_NODES.split(',').map(hp => ({ host: hp.split(':')[0], port: Number(hp.split(':')[1]) }))
    return { nodes, stop: async () => {} }
  }
  const servers = await Promise.all([0, 1, 2].map(() => startServer('redis-server', 'redis-server', (port, dir, busPort) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000', '--cluster-port', String(busPort)
  ], 'redis')))
  const cli = binary('redis-cli', 'redis-tools')
  execFileSync(cli, ['--cluster', 'create', ...servers.map(s => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' })
  const deadline = Date.now() + 15_000
  for (;;) {
    const states = servers.map(s => execFileSync(cli, ['-p', String(s.port), 'cluster', 'info'], { encoding: 'utf8' }))
    if (states.every(info => info.includes('cluster_state:ok'))) break
    if (Date.now() > deadline) throw new Error('the Redis Cluster did not reach cluster_state:ok')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { nodes: servers.map(s => ({ host: '127.0.0.1', port: s.port })), stop: async () => { await Promise.all(servers.map(s => s.stop())) } }
}

/** MariaDB: `mariadb-install-db` once into a template folder, copied for each server; root, empty password, TCP. */
export async function startMariaDB (): Promise<Server> {
  if (process.env.MYSQL_URL) return external(process.env.MYSQL_URL)
  const install = binary('mariadb-install-db', 'mariadb-server')
  binary('mariadbd', 'mariadb-server')
  const template = join(tmpdir(), `fzs-mariadb-template-${process.getuid?.() ?? 0}`)
  if (!existsSync(join(template, 'mysql'))) {
    const building = mkdtempSync(join(tmpdir(), 'fzs-mariadb-building-'))
    execFileSync(install, ['--no-defaults', `--datadir=${building}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' })
    try {
      renameSync(building, template)
    } catch {
      rmSync(building, { recursive: true, force: true }) // another test file built it first
    }
  }
  const server = await startServer('mariadbd', 'mariadb-server', (port, dir) => {
    if (!existsSync(join(dir, 'data'))) cpSync(template, join(dir, 'data'), { recursive: true })
    return ['--no-defaults', `--datadir=${join(dir, 'data')}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'mysqld.sock')}`,
      '--user=root', '--skip-log-bin', '--innodb-buffer-pool-size=32M', '--innodb-flush-log-at-trx-commit=2']
  }, 'mysql')
  server.url = `mysql://root@127.0.0.1:${server.port}/`
  return server
}

export interface ClusterNode extends Server {
  host: string
}

export interface ReplicatedCluster {
  nodes: ClusterNode[]
  /** `redis-cli -p <port> <args>`, its answer */
  cli: (port: number, ...args: string[]) => string
  /** the node's role as it says itself ('master' or 'slave'), or undefined when it does not answer */
  role: (node: ClusterNode) => string | undefined
  /** waits until every node that answers says cluster_state:ok and every master's replica is online */
  settled: (timeoutMs?: number) => Promise<void>
  stop: () => Promise<void>
}

/**
 * Six nodes: three masters, each with one replica (`--cluster-replicas 1`), `cluster-node-timeout`
 * 2000, on loopback random ports in temp dirs (a node restarted keeps its nodes.conf, so it rejoins).
 * Resolves once the cluster says cluster_state:ok everywhere and every replica is in sync.
 */
export async function startRedisClusterWithReplicas (): Promise<ReplicatedCluster> {
  const servers = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => await startServer('redis-server', 'redis-server', (port, dir, busPort) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000', '--cluster-port', String(busPort)
  ], 'redis')))
  const bin = binary('redis-cli', 'redis-tools')
  const cli = (port: number, ...args: string[]): string => execFileSync(bin, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 })
  execFileSync(bin, ['--cluster', 'create', ...servers.map(s => `127.0.0.1:${s.port}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: 'ignore' })
  const nodes = servers.map(s => Object.assign(s, { host: '127.0.0.1' }))
  const role = (node: ClusterNode): string | undefined => {
    try {
      return /role:(\w+)/.exec(cli(node.port, 'info', 'replication'))?.[1]
    } catch {
      return undefined
    }
  }
  const settled = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const answering = nodes.filter(n => n.process !== null && n.process.exitCode === null && n.process.signalCode === null)
      const ok = answering.every(n => {
        try {
          if (!cli(n.port, 'cluster', 'info').includes('cluster_state:ok')) return false
          const replication = cli(n.port, 'info', 'replication')
          if (replication.includes('role:slave')) return replication.includes('master_link_status:up') && !replication.includes('master_sync_in_progress:1')
          return /connected_slaves:[1-9]/.test(replication) && /slave0:.*state=online/.test(replication)
        } catch {
          return false
        }
      })
      if (ok && answering.filter(n => role(n) === 'master').length === 3) return
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not settle (cluster_state:ok, replicas online) in ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  await settled()
  return { nodes, cli, role, settled, stop: async () => { await Promise.all(servers.map(async s => { await s.stop() })) } }
}
