// Which link a RedisStore's client gets: ioredis or node-redis, a server or a Cluster.
import type { IORedisClient, IORedisCluster, NodeRedisClient, NodeRedisCluster, RedisClient, RedisLink } from './link.js'
import { ioredisLink } from './ioredis-link.js'
import { nodeRedisClusterLink, nodeRedisLink } from './node-redis-link.js'

export function redisLink (client: RedisClient): RedisLink {
  const c = client as unknown as Record<string, unknown> | null
  if (c !== null && typeof c === 'object') {
    if (typeof c.defineCommand === 'function' && typeof c.call === 'function') return ioredisLink(client as IORedisClient | IORedisCluster)
    if (typeof c.sendCommand === 'function' && typeof c.nodeClient === 'function' && 'masters' in c) return nodeRedisClusterLink(client as NodeRedisCluster)
    if (typeof c.sendCommand === 'function' && typeof c.duplicate === 'function') return nodeRedisLink(client as NodeRedisClient)
  }
  throw new TypeError('RedisStore: `client` must be an ioredis Redis or Cluster, or a node-redis client (createClient() or createCluster())')
}
