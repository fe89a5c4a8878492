// Reachability checks for the real services integration tests talk to: fail in CI, skip visibly elsewhere.
import { connect } from 'node:net';

export type ServiceName = 'postgres' | 'mariadb' | 'redis' | 'rabbitmq' | 'nats' | 'mqtt';

// Start commands as the development machines start these services (printed when one is down in CI).
const SERVICES: Record<ServiceName, { port: number; start: string }> = {
  postgres: { port: 5432, start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' },
  mariadb: { port: 3306, start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd' },
  redis: {
    port: 6379,
    start: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
  },
  rabbitmq: { port: 5672, start: 'rabbitmq-server -detached' },
  nats: {
    port: 4222,
    start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log',
  },
  mqtt: { port: 1883, start: 'mosquitto -d -c /etc/mosquitto/mosquitto.conf' },
};

const warned = new Set<string>();

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * True when the service accepts TCP connections. When it does not: throws in CI (CI=true), otherwise
 * prints one warning and returns false so the caller can skip.
 * @example const pg = await serviceAvailable('postgres'); describe.skipIf(!pg)('pg', () => { ... });
 */
export async function serviceAvailable(name: ServiceName, opts: { host?: string; port?: number } = {}): Promise<boolean> {
  const known = SERVICES[name];
  if (known === undefined) throw new TypeError(`serviceAvailable: unknown service ${JSON.stringify(name)}; accepted: ${Object.keys(SERVICES).join(', ')}`);
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? known.port;
  if (await tcpReachable(host, port, 2000)) return true;
  if (process.env.CI === 'true') {
    throw new Error(`[waggle-testing] ${name} is not reachable on ${host}:${port} and CI=true, so its tests fail instead of skipping; start it with: ${known.start}`);
  }
  const key = `${name}@${host}:${port}`;
  if (!warned.has(key)) {
    warned.add(key);
    process.stderr.write(`[waggle-testing] ${name} is not reachable on ${host}:${port}; skipping its tests\n`);
  }
  return false;
}

let nameSeq = 0;

/**
 * A name no other test process uses right now, for queues, keys and tables on the shared services:
 * `<label>-<pid>-<time base36>-<n>`. With a `label` of letters, digits, `.`, `_` and `-` it is a valid
 * RabbitMQ, BullMQ and pg-boss queue name.
 * @example const queue = uniqueName('signup'); // 'signup-4242-mi3k2x1a-1'
 */
export function uniqueName(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${++nameSeq}`;
}
