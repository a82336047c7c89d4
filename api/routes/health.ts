// Liveness says the process serves HTTP; readiness says it can do its job: Postgres answers and
// the Temporal frontend answers. A 503 names what is down so that ops know where to look.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkTemporal } from '../../lib/temporal.ts';

const check = z.object({
  status: z.enum(['up', 'down']),
  latencyMs: z.number(),
  error: z.string().optional(),
});

const readiness = z.object({
  status: z.enum(['ready', 'unavailable']),
  down: z.array(z.string()),
  checks: z.record(z.string(), check),
});

type Check = z.infer<typeof check>;

async function timed(timeoutMs: number, probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const timeoutMs = app.config.HEALTH_CHECK_TIMEOUT_MS;

  app.get(
    '/health/live',
    { schema: { tags: ['health'], response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    { schema: { tags: ['health'], response: { 200: readiness, 503: readiness } } },
    async (request, reply) => {
      const [postgres, temporal] = await Promise.all([
        timed(timeoutMs, () => app.db.$queryRaw`SELECT 1`),
        timed(timeoutMs, () => checkTemporal(app.temporal, timeoutMs)),
      ]);
      const checks = { postgres, temporal };
      const down = Object.entries(checks).filter(([, c]) => c.status === 'down').map(([name]) => name);
      if (down.length) {
        request.log.warn({ checks }, 'not ready');
        // The causes are logged; the response names the dependency without internal details.
        for (const c of Object.values(checks)) if (c.error && !c.error.startsWith('no answer')) c.error = 'unreachable';
      }
      return reply.status(down.length ? 503 : 200).send({ status: down.length ? 'unavailable' : 'ready', down, checks });
    },
  );
};

export default healthRoutes;
