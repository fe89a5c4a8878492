// PostgreSQL availability: in CI a missing service fails the test; elsewhere the test is skipped visibly.
import { connect } from 'node:net';

export async function postgresAvailable(): Promise<boolean> {
  const up = await new Promise<boolean>((resolve) => {
    const socket = connect(5432, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (!up && process.env.CI === 'true') throw new Error('PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true');
  if (!up) console.warn('SKIPPED: PostgreSQL is not reachable on 127.0.0.1:5432');
  return up;
}
