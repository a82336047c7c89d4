// A real S3-compatible server for the S3 document storage tests: moto's server mode
// (`moto_server`, installed into .local/ by `npm run setup -- --s3`, which `npm test` passes) on a
// free loopback port, with one bucket, and the S3 variables of the config that point at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import getPort from 'get-port';
import { ensureMoto } from '../../scripts/provision/tools.ts';

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** DOCUMENT_STORAGE=s3 and the S3_* variables for this server's bucket. */
  env: Record<string, string>;
  /** A client of the server, to look at the bucket behind the storage's back. */
  client: S3Client;
  stop(): Promise<void>;
}

const REGION = 'us-east-1';

export async function startS3Server(bucket = 'metachat-documents'): Promise<S3Server> {
  const { path } = await ensureMoto();
  // The SDK's default chain reads these first: fixed test credentials, so that no developer's own
  // AWS credentials are ever signed into requests to the test server.
  process.env.AWS_ACCESS_KEY_ID = 'metachat-test';
  process.env.AWS_SECRET_ACCESS_KEY = 'metachat-test-secret';
  const port = await getPort({ host: '127.0.0.1' });
  const endpoint = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(path, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${output}`);
      const up = await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const client = new S3Client({ region: REGION, endpoint, forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    return {
      endpoint,
      bucket,
      env: { DOCUMENT_STORAGE: 's3', S3_BUCKET: bucket, S3_REGION: REGION, S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', S3_SERVER_SIDE_ENCRYPTION: 'AES256' },
      client,
      async stop() {
        client.destroy();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
