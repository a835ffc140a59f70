// Starting the two servers the Node tests talk to: switchboard (the Rust
// binary, as a child process) and the original calling-signaling 0.1.4
// (in this process, from npm).

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);

/** The repository root (three levels above tests/node/support). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The switchboard binary: $SWITCHBOARD_BIN, or target/debug/switchboard. */
export function switchboardBin() {
  const bin = process.env.SWITCHBOARD_BIN ?? 'target/debug/switchboard';
  return path.resolve(repoRoot, bin);
}

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * Spawns `switchboard serve --listen 127.0.0.1:0 --log-format json` (plus
 * `extraArgs`) and waits for the JSON log line on stderr that carries the
 * bound address in `fields.listen`.
 *
 * @returns {Promise<{name: string, addr: string, url: string, logs: object[], stop: () => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startSwitchboard(extraArgs = []) {
  const bin = switchboardBin();
  if (!existsSync(bin)) {
    throw new Error(`switchboard binary not found at ${bin} (build it with \`cargo build -p switchboard-server\` or set SWITCHBOARD_BIN)`);
  }
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--log-format', 'json', ...extraArgs], {
    cwd: repoRoot,
    // `stop()` sends SIGTERM, which drains: without this, a call whose
    // polling client is gone but not yet timed out would hold the stop for
    // up to the 5-minute default. Drain tests are in crates/server/tests.
    env: { SWITCHBOARD_DRAIN_TIMEOUT: '0s', ...process.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const logs = [];
  const lines = readline.createInterface({ input: child.stderr });

  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`switchboard did not log its listen address within ${STARTUP_TIMEOUT_MS} ms; log so far:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
    }, STARTUP_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`switchboard exited before listening (code ${code}, signal ${signal}); log:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
    });
    lines.on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { unparsed: line };
      }
      logs.push(entry);
      const listen = entry?.fields?.listen;
      if (typeof listen === 'string') {
        clearTimeout(timer);
        resolve(listen);
      }
    });
  }).catch(async (err) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });

  let stopping = null;
  return {
    name: 'switchboard',
    addr,
    url: `ws://${addr}/ws/calling`,
    logs,
    /** Sends the process a signal ('SIGTERM') without waiting for it to exit. */
    signal(name) {
      child.kill(name);
    },
    /** Resolves with `{code, signal}` once the process has exited. */
    exited,
    /** Users online now, from the server's `/metrics`. */
    async usersOnline() {
      const text = await (await fetch(`http://${addr}/metrics`)).text();
      return Number(/^switchboard_users (\d+)$/m.exec(text)[1]);
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const result = await exited;
        clearTimeout(timer);
        return result;
      })();
      return stopping;
    },
  };
}

/**
 * Resolves once `server.usersOnline()` is at most `count`: the server has
 * seen a closed connection and done its clean-up. It re-checks on each turn
 * of the event loop (a few ms apart) and fails after `timeoutMs`.
 */
export async function waitForUsers(server, count, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await server.usersOnline()) > count) {
    if (Date.now() > deadline) throw new Error(`${server.name} still has more than ${count} users after ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Starts the original calling-signaling 0.1.4 server in this process on an
 * ephemeral port of 127.0.0.1, with its default options (as its CLI does).
 *
 * @returns {Promise<{name: string, url: string, server: object, stop: () => Promise<void>}>}
 */
export async function startOriginal() {
  const { CallingWebsocketServer } = require('calling-signaling');
  const server = new CallingWebsocketServer();
  await server.listen(0, '127.0.0.1');
  const { port } = server.wss.address();
  let stopping = null;
  return {
    name: 'original',
    // The original accepts WebSocket upgrades on any path.
    url: `ws://127.0.0.1:${port}/ws/calling`,
    server,
    /** Users online now, from the server's own table. */
    async usersOnline() {
      return Object.keys(server.users).length;
    },
    stop() {
      if (stopping) return stopping;
      // ws 7 (the server's own dependency) terminates open clients on close().
      stopping = new Promise((resolve) => server.wss.close(() => resolve())).then(async () => {
        // Let the server see every connection go (users leave on 'close').
        for (let i = 0; i < 200 && Object.keys(server.users).length > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // An emptied room is deleted by a 10-minute timer that would keep
        // this process alive. rooms.js cancels it with a `once('new_peer')`
        // listener; call just that listener (the only `once` one) of every
        // room, so the timers are cleared without other side effects.
        for (const room of Object.values(server.rooms?.rooms ?? {})) {
          for (const listener of room.rawListeners('new_peer')) {
            if (typeof listener.listener === 'function') listener.listener();
          }
        }
      });
      return stopping;
    },
  };
}

/** The servers every parametrised test runs against, by name. */
export const SERVERS = {
  original: startOriginal,
  switchboard: () => startSwitchboard(),
};

/**
 * Starts Debian's `redis-server` (installed by scripts/test) on a free
 * loopback port, without persistence, and resolves once it answers PING.
 *
 * @returns {Promise<{port: number, url: string, stop: () => Promise<void>}>}
 */
export async function startRedis() {
  const net = await import('node:net');
  const port = await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const pong = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
    if (pong) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
    // Each attempt is a connect refused at once until the server listens.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Starts one switchboard node per id on `redis` (each also given
 * `extraArgs`) and resolves once each answers /readyz 200 (it listens on
 * its channel and has announced itself).
 */
export async function startCluster(redis, ids, extraArgs = []) {
  const nodes = [];
  for (const id of ids) {
    nodes.push(await startSwitchboard(['--redis-url', redis.url, '--node-id', id, ...extraArgs]));
  }
  for (const node of nodes) {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while ((await fetch(`http://${node.addr}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`node ${node.addr} did not join the cluster`);
    }
  }
  return nodes;
}
