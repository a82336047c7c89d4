// Starts the API. SIGINT/SIGTERM close it gracefully: stop accepting, finish in-flight requests
// (bounded by SHUTDOWN_GRACE_MS), then close the database pool and the Temporal connection, and
// export the spans still buffered when tracing is on.
import closeWithGrace from 'close-with-grace';
import { loadConfigOrExit } from '../lib/config.ts';
import { createDb } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { startTracing } from '../lib/tracing.ts';
import { buildApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
const tracing = startTracing(config, 'metachat-api');
const db = createDb(config, 'metachat-api', tracing);
const temporal = createTemporalClient(config, tracing);
const app = await buildApp({ config, db, temporal, logger, tracing });

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal }, 'shutting down');
  await app.close();
  await db.$disconnect();
  await temporal.connection.close();
  await tracing?.shutdown();
});

try {
  await app.listen({ host: config.HOST, port: config.PORT });
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  logger.fatal(
    code === 'EADDRINUSE' ? `port ${config.PORT} is already in use: stop what holds it or set PORT` : { err },
    'API failed to start',
  );
  await db.$disconnect();
  process.exit(1);
}
