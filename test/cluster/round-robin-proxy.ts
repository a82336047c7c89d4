// The load balancer in front of the cluster test's API processes: a TCP proxy that hands each new
// connection to the next backend in turn, as an L4 balancer (a Kubernetes Service, an AWS NLB)
// does. TCP rather than HTTP so that WebSocket upgrades and keep-alive connections pass through
// untouched. Like those balancers it health-checks the backends (GET `healthPath` every
// `healthEveryMs`, a readiness probe) and hands new connections only to the ready ones (to all of
// them when none is); a backend that refuses the connection anyway is skipped for the next one.
// A connection whose backend dies is closed, as a real balancer's would be, and the client
// reconnects through the proxy to a live one. Hand-written because it is 80 lines over node:net,
// and a proxy library brings HTTP semantics this test must not have.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  url: string;
  /** Connections handed to each backend so far, by its index. */
  readonly connections: number[];
  close(): Promise<void>;
}

export interface HealthCheck {
  healthPath: string;
  healthEveryMs: number;
}

export async function startRoundRobinProxy(backends: { host: string; port: number }[], health: HealthCheck = { healthPath: '/health/ready', healthEveryMs: 500 }): Promise<RoundRobinProxy> {
  const connections = backends.map(() => 0);
  const ready = backends.map(() => true);
  const open = new Set<Socket>();
  let next = 0;

  const probe = async () => {
    await Promise.all(backends.map(async (b, i) => {
      try {
        const res = await fetch(`http://${b.host}:${b.port}${health.healthPath}`, { signal: AbortSignal.timeout(health.healthEveryMs * 2) });
        await res.arrayBuffer();
        ready[i] = res.ok;
      } catch {
        ready[i] = false;
      }
    }));
  };
  await probe();
  let probing = false;
  const timer = setInterval(() => {
    if (probing) return;
    probing = true;
    void probe().finally(() => (probing = false));
  }, health.healthEveryMs);

  /** The next backend in turn among the ready ones (among all when none is ready). */
  const pick = (): number => {
    const anyReady = ready.some(Boolean);
    for (let i = 0; i < backends.length; i++) {
      const index = (next + i) % backends.length;
      if (!anyReady || ready[index]) {
        next = (index + 1) % backends.length;
        return index;
      }
    }
    return next;
  };

  /** Tries the backends from the next in turn; the client is dropped when none accepts. */
  const pipeTo = (client: Socket, attempt: number): void => {
    if (attempt >= backends.length || client.destroyed) {
      client.destroy();
      return;
    }
    const index = pick();
    const backend = connect(backends[index]!);
    open.add(backend);
    backend.once('close', () => open.delete(backend));
    let connected = false;
    backend.on('error', () => {
      backend.destroy();
      if (connected) client.destroy();
      else pipeTo(client, attempt + 1);
    });
    backend.once('connect', () => {
      connected = true;
      connections[index]!++;
      client.on('error', () => backend.destroy());
      client.once('close', () => backend.destroy());
      backend.once('close', () => client.destroy());
      client.pipe(backend);
      backend.pipe(client);
      client.resume();
    });
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    pipeTo(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
