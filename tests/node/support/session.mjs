// Runs a scripted calling session against one server and records, per step
// and per user, every message received. Used by the differential test.
//
// A script is `{name, users, steps}`: `users` clients connect in order
// (named U1, U2, ...); each step is `[user, request]`, `[user, 'close']`
// (a WebSocket close handshake) or `[user, 'terminate']` (the TCP
// connection dropped); both disconnections are steps of kind 'close'.
// Requests are sent with the tid `step number` (the same on every server);
// string values "@U2" / "@R1" in a request are replaced by user U2's id /
// the id of the first room the server drew (a `room_join` without `room`).
//
// After each step a barrier runs: every connected user sends
// `{type: "ping", tid}` and waits for its answer. Servers answer in order, so
// everything the step caused has reached every user before its barrier
// answer. What a user received during the step, minus its barrier answer,
// is the step's record for that user.

import { connect } from './client.mjs';
import { waitForUsers } from './servers.mjs';

const BARRIER_TID_BASE = 1_000_000;


function substitute(value, refs) {
  if (typeof value === 'string' && value.startsWith('@')) {
    const name = value.slice(1);
    if (!(name in refs)) throw new Error(`script refers to unknown ${value}`);
    return refs[name];
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, refs));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, refs)]));
  }
  return value;
}

/**
 * @param {() => Promise<{name: string, url: string, stop: () => Promise<unknown>}>} startServer
 * @param {{name: string, users: number, steps: Array<[string, object|'close'|'terminate']>}} script
 * @returns {Promise<{server: string, names: Map<string, string>, steps: Array<{label: string, kind: string, request?: object, byUser: object[][]}>}>}
 *   `names` maps each user id and drawn room id to U<n> / R<n>;
 *   `byUser[k]` is what user U<k+1> received during the step (empty if closed).
 */
export async function runScript(startServer, script, { answerTimeoutMs = 3_000 } = {}) {
  const server = await startServer();
  const clients = [];
  const names = new Map();
  const refs = {};
  const steps = [];
  let barrierTid = BARRIER_TID_BASE;
  try {
    for (let k = 0; k < script.users; k++) {
      const client = await connect(server.url);
      clients.push(client);
      names.set(client.id, `U${k + 1}`);
      refs[`U${k + 1}`] = client.id;
    }
    steps.push({ label: 'connect', kind: 'connect', byUser: clients.map((c) => [c.hello]) });

    const userIndex = (name) => {
      const k = Number(/^U(\d+)$/.exec(name)?.[1]) - 1;
      if (!(k >= 0 && k < clients.length)) throw new Error(`script ${script.name}: no user ${name}`);
      return k;
    };
    let roomCount = 0;

    for (const [n, [who, what]] of script.steps.entries()) {
      const tid = n + 1;
      const k = userIndex(who);
      const client = clients[k];
      if (!client.isOpen) throw new Error(`script ${script.name}, step ${tid}: ${who} is closed`);
      const marks = clients.map((c) => c.received.length);
      const disconnect = { close: 'closes its socket', terminate: 'drops its connection' }[what];
      const step = { label: `step ${tid}: ${who} ${disconnect ?? JSON.stringify(what)}` };

      if (disconnect) {
        step.kind = 'close';
        await (what === 'close' ? client.close() : client.terminate());
        // The server learns of the close a moment after the client does:
        // wait until it has let the user go, before the barrier.
        await waitForUsers(server, clients.filter((c) => c.isOpen).length);
      } else {
        const request = { ...substitute(what, refs), tid };
        step.kind = request.type;
        step.request = request;
        let answer;
        try {
          answer = await client.request(request, { timeout: answerTimeoutMs });
        } catch (err) {
          step.requestError = err.message;
        }
        if (request.type === 'room_join' && request.room === undefined && typeof answer?.data?.room === 'string') {
          roomCount += 1;
          names.set(answer.data.room, `R${roomCount}`);
          refs[`R${roomCount}`] = answer.data.room;
        }
      }

      const barrier = clients.map(() => null);
      await Promise.all(
        clients.map(async (c, j) => {
          if (!c.isOpen) return;
          const bt = ++barrierTid;
          barrier[j] = bt;
          await c.request({ type: 'ping', tid: bt }, { timeout: answerTimeoutMs });
        }),
      );
      step.byUser = clients.map((c, j) =>
        c.received
          .slice(marks[j])
          .filter((m) => !(m?.type === 'answer' && m.tid === barrier[j] && m.error === undefined && m.data === undefined)),
      );
      steps.push(step);
    }
  } finally {
    await Promise.all(clients.map((c) => c.terminate()));
    await server.stop();
  }
  return { server: server.name, names, steps };
}

/** Replaces every string (value or key) that is a known id by its name, recursively. */
export function renameIds(value, names) {
  if (typeof value === 'string') return names.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => renameIds(v, names));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [names.get(k) ?? k, renameIds(v, names)]));
  }
  return value;
}

/** JSON with object keys sorted, so equal messages have equal text. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
