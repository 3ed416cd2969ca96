import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { fastifyCookie } from '@fastify/cookie'
import type { FastifyZodSessionOptions } from '../types/index.js'
import { resolveOptions } from './options.js'
import { storeError } from './errors.js'
import { SessionManager } from './manager.js'
import { createSessionsApi } from './sessions-api.js'

// options → decorators → hooks
async function sessionCore (fastify: FastifyInstance, options: FastifyZodSessionOptions): Promise<void> {
  const opts = resolveOptions(options)
  if (typeof opts.store.ready === 'function') {
    try {
      await opts.store.ready()
    } catch (err) {
      throw storeError(`open the store: ${(err as Error).message}`, err)
    }
  }
  const manager = new SessionManager(opts)

  fastify.decorate('sessionStore', opts.store)
  fastify.decorate('sessions', createSessionsApi(opts.store, opts.owner !== null))
  fastify.decorateRequest('session', null as never)

  fastify.addHook('onRequest', async (request) => {
    request.session = await manager.load(request) as never
  })
  fastify.addHook('onSend', async (request, reply, payload) => {
    await manager.onSend(request, reply)
    return payload
  })

  const store = opts.store
  if (opts.pruneInterval !== null && typeof store.prune === 'function') {
    const timer = setInterval(() => {
      store.prune!().then(
        removed => { if (removed > 0) fastify.log.debug({ removed }, 'pruned expired sessions') },
        err => { fastify.log.warn({ err }, 'session prune failed') }
      )
    }, opts.pruneInterval)
    timer.unref()
    fastify.addHook('onClose', async () => { clearInterval(timer) })
  }
  // closing a store releases what it opened itself (files, locks, its own clients), never a client it was given
  fastify.addHook('onClose', async () => { await opts.store.close?.() })
}

const core = fp(sessionCore, { fastify: '5.x', name: 'fastify-zod-session-core', dependencies: ['@fastify/cookie'] })

const fastifyZodSession: FastifyPluginAsync<FastifyZodSessionOptions> = async (fastify, options) => {
  if (!fastify.hasPlugin('@fastify/cookie')) await fastify.register(fastifyCookie)
  await fastify.register(core, options)
}

export default fp(fastifyZodSession, { fastify: '5.x', name: 'fastify-zod-session' })
