// socket.io clients for the cloudkibo and tringtring tests: the real npm
// socket.io-client at 1.x, 2.x (Engine.IO v3) and 4.x (Engine.IO v4),
// installed under the aliases socket.io-client-v1, -v2 and -v4, wrapped so
// a test can wait for "the next event this socket received" and for acks,
// with a timeout only as a failure bound.
//
// Every event packet the server sends is recorded in arrival order (the
// client's `onevent` is wrapped, so no event name can slip past unseen),
// together with the acks, each with a sequence number shared by events and
// acks of one socket. `next()` takes events strictly in order: a test that
// expects `x` and gets `y` fails, which is how the tests show that nothing
// else arrived.

import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);

/** How long a single expected event or ack may take before the test fails. */
export const STEP_TIMEOUT_MS = 5_000;

/** The socket.io-client packages, by the short name the tests use. */
export const CLIENTS = {
  v1: { name: 'socket.io-client 1.x', pkg: 'socket.io-client-v1' },
  v2: { name: 'socket.io-client 2.x', pkg: 'socket.io-client-v2' },
  v4: { name: 'socket.io-client 4.x', pkg: 'socket.io-client-v4' },
};

for (const client of Object.values(CLIENTS)) {
  client.version = require(`${client.pkg}/package.json`).version;
  client.io = require(client.pkg);
  client.name = `socket.io-client ${client.version}`;
}

/** The transport lists the flows run over (the clients' `transports` option). */
export const TRANSPORTS = {
  websocket: ['websocket'],
  polling: ['polling'],
};

/**
 * Client version × transport combinations the flows run over. `skip` is a
 * reason to skip the combination (a string), or false.
 */
export const VARIANTS = [];
for (const client of ['v1', 'v2', 'v4']) {
  for (const transport of Object.keys(TRANSPORTS)) {
    VARIANTS.push({
      client,
      transport,
      skip: false,
      label: `${CLIENTS[client].name} over ${transport}`,
    });
  }
}

let uniqueCounter = 0;
/** A name unique in this process (phones, rooms, peer names). */
export function unique(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${process.pid}-${uniqueCounter}`;
}

/** A socket.io client socket with an ordered record of what it received. */
export class SioClient {
  constructor(socket, label) {
    this.socket = socket;
    this.label = label;
    this.seq = 0;
    /** Everything received, in order: {seq, kind: 'event'|'ack', event?, args}. */
    this.received = [];
    this.queue = [];
    this.waiters = [];
    this.disconnected = false;
    this.disconnectReason = undefined;
    /** Callbacks run after each recorded entry and on disconnect (see `waitFor`). */
    this.watchers = new Set();

    const original = socket.onevent;
    socket.onevent = (packet) => {
      const data = Array.isArray(packet.data) ? packet.data : [];
      const entry = { seq: ++this.seq, kind: 'event', event: data[0], args: data.slice(1) };
      this.received.push(entry);
      const waiter = this.waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        waiter.resolve(entry);
      } else {
        this.queue.push(entry);
      }
      this.notify();
      return original.call(socket, packet);
    };
    socket.on('disconnect', (reason) => {
      this.disconnected = true;
      this.disconnectReason = reason;
      const err = new Error(`${this.label}: disconnected (${reason})`);
      for (const waiter of this.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(err);
      }
      this.notify();
    });
  }

  /** Runs the watchers (something was received, or the socket disconnected). */
  notify() {
    for (const watcher of [...this.watchers]) watcher();
  }

  /** The socket's id, which the server uses as `peer_id` and `sendersocket`. */
  get id() {
    return this.socket.id;
  }

  /** Emits an event without an ack. */
  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /**
   * Emits an event with an ack callback and resolves with the ack's
   * arguments (an array) and its sequence number: `{args, seq}`.
   */
  request(event, payload, { timeout = STEP_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.label}: no ack to '${event}' ${JSON.stringify(payload)} within ${timeout} ms`));
      }, timeout);
      this.socket.emit(event, payload, (...args) => {
        clearTimeout(timer);
        const entry = { seq: ++this.seq, kind: 'ack', event, args };
        this.received.push(entry);
        resolve(entry);
        this.notify();
      });
    });
  }

  /**
   * Resolves with the next event received: `{seq, event, args}`. On a
   * timeout the error lists what this socket and the sockets in `also`
   * (e.g. the sender of a relay) received.
   */
  next({ timeout = STEP_TIMEOUT_MS, also = [] } = {}) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.disconnected) return Promise.reject(new Error(`${this.label}: disconnected (${this.disconnectReason})`));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        const others = also.map((sio) => `; ${sio.label} received: ${sio.describeReceived()}`).join('');
        reject(new Error(`${this.label}: no event within ${timeout} ms; received so far: ${this.describeReceived()}${others}`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /**
   * The next event must be `event`; resolves with its first argument (the
   * payload). `expectEntry` gives all the arguments and the sequence number.
   */
  async expect(event, opts) {
    const entry = await this.expectEntry(event, opts);
    return entry.args[0];
  }

  /** The next event must be `event`; resolves with `{seq, event, args}`. */
  async expectEntry(event, opts) {
    const entry = await this.next(opts);
    assert.equal(entry.event, event, `${this.label}: expected '${event}' next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
    return entry;
  }

  /**
   * The next events must be exactly `events` (names), in any order; resolves
   * with an object of their payloads by name.
   */
  async expectSet(events, opts) {
    const wanted = [...events];
    const payloads = {};
    while (wanted.length > 0) {
      const entry = await this.next(opts);
      const i = wanted.indexOf(entry.event);
      assert.ok(i >= 0, `${this.label}: expected one of ${JSON.stringify(wanted)} next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
      wanted.splice(i, 1);
      payloads[entry.event] = entry.args[0];
    }
    return payloads;
  }

  /** Events received and not yet taken by next(). */
  pending() {
    return [...this.queue];
  }

  describeReceived() {
    return JSON.stringify(this.received.map(({ kind, event, args }) => (kind === 'ack' ? { ack: event, args } : { event, args })));
  }

  /** Disconnects (socket.io DISCONNECT packet, then the transport closes). */
  close() {
    if (!this.disconnected && this.socket.connected) this.socket.disconnect();
    this.closeEngine();
  }

  /** Closes the Engine.IO connection without a socket.io DISCONNECT packet. */
  drop() {
    this.closeEngine();
  }

  closeEngine() {
    const manager = this.socket.io;
    try {
      manager.reconnection?.(false);
      manager.engine?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Resolves once `condition()` is true, checking it now and again whenever
 * one of `sios` records an event or an ack or disconnects (no polling, no
 * sleeping). Fails after `timeout` with `what` and what each socket received.
 */
export function waitFor(sios, condition, { timeout = STEP_TIMEOUT_MS, what = 'the condition' } = {}) {
  const clients = [sios].flat();
  return new Promise((resolve, reject) => {
    const done = (settle, value) => {
      clearTimeout(timer);
      for (const sio of clients) sio.watchers.delete(check);
      settle(value);
    };
    const check = () => {
      let value;
      try {
        value = condition();
      } catch (err) {
        done(reject, err);
        return;
      }
      if (value) done(resolve, value);
    };
    const timer = setTimeout(() => {
      const seen = clients.map((sio) => `${sio.label} received ${sio.received.length} entries${sio.disconnected ? `, disconnected (${sio.disconnectReason})` : ''}`).join('; ');
      done(reject, new Error(`${what}: not within ${timeout} ms (${seen})`));
    }, timeout);
    for (const sio of clients) sio.watchers.add(check);
    check();
  });
}

/**
 * Connects a `client` ('v1' | 'v2' | 'v4') socket to `http://addr/socket.io/`
 * over `transport` ('websocket' | 'polling'), and resolves once it is
 * connected. Fails on connect_error or after `timeout`.
 */
export function connectSio(addr, { client, transport, timeout = STEP_TIMEOUT_MS, label } = {}) {
  const { io, name } = CLIENTS[client];
  const transports = TRANSPORTS[transport];
  const socket = io(`http://${addr}`, {
    path: '/socket.io',
    transports,
    forceNew: true,
    reconnection: false,
    timeout,
  });
  const sio = new SioClient(socket, label ?? `${name}/${transport}`);
  return new Promise((resolve, reject) => {
    const fail = (err) => {
      clearTimeout(timer);
      sio.close();
      reject(new Error(`${sio.label} could not connect to http://${addr}/socket.io/: ${err?.message ?? err}${err?.description ? ` (${err.description?.message ?? err.description})` : ''}`));
    };
    const timer = setTimeout(() => fail(new Error(`not connected within ${timeout} ms`)), timeout);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off?.('connect_error', fail);
      socket.removeListener?.('connect_error', fail);
      resolve(sio);
    });
    socket.once('connect_error', fail);
    socket.once('connect_timeout', () => fail(new Error('connect_timeout')));
  });
}

/**
 * The sockets of one test: `connect()` opens one of the test's variant,
 * `closeAll()` (for `t.after`) disconnects every one still open.
 */
export class SioPool {
  constructor(addr, variant) {
    this.addr = addr;
    this.variant = variant;
    this.clients = [];
  }

  async connect(label) {
    const sio = await connectSio(this.addr, {
      client: this.variant.client,
      transport: this.variant.transport,
      label: label ? `${label} (${this.variant.label})` : undefined,
    });
    this.clients.push(sio);
    return sio;
  }

  closeAll() {
    for (const sio of this.clients) sio.close();
  }
}

// ---------------------------------------------------------------------------
// Dialect helpers.

/**
 * Shows that `sio` has received no other event so far: it sends an event of
 * the other dialect (which changes nothing and is answered with `error`),
 * and the next event must be that `error`. The server answers one socket in
 * order, so anything it had sent to `sio` before would come first.
 */
export async function barrier(sio, dialect) {
  if (dialect === 'cloudkibo') {
    sio.emit('cut-the-call', { room_id: 'barrier', peer_name: 'barrier', peer_id: 'barrier' });
  } else if (dialect === 'tringtring') {
    sio.emit('init', { room: 'barrier', username: 'barrier' });
  } else {
    throw new Error(`unknown dialect ${dialect}`);
  }
  const entry = await sio.next();
  assert.equal(entry.event, 'error', `${sio.label}: expected nothing before the barrier's 'error', got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assertErrorPayload(entry.args[0], sio);
}

/** An `error` event's payload is `{message}` with a non-empty string. */
export function assertErrorPayload(payload, sio) {
  assert.equal(typeof payload, 'object', `${sio?.label ?? ''}: error payload ${JSON.stringify(payload)} is not an object`);
  assert.ok(payload !== null);
  assert.equal(typeof payload.message, 'string', `error payload ${JSON.stringify(payload)} has no string message`);
  assert.ok(payload.message.length > 0, 'error message is empty');
}

/** cloudkibo: registers `sio` as `phone` and checks the `youareonline` answer. */
export async function joinGlobalChatroom(sio, phone) {
  sio.emit('join global chatroom', { room: 'globalchatroom', user: { phone, _id: `id-${phone}` } });
  const entry = await sio.expectEntry('youareonline');
  assert.deepEqual(entry.args, [[]], `${sio.label}: youareonline carries one argument, an empty list`);
}

/** cloudkibo: a call status message `{callerphone, calleephone, type: "call", status}`. */
export function callMsg(callerphone, calleephone, status) {
  return { callerphone, calleephone, type: 'call', status };
}

/** cloudkibo: the `message` the caller gets when the callee is offline. */
export function calleeOffline(callerphone, calleephone) {
  return {
    msg: { callerphone, calleephone, status: 'calleeoffline' },
    callerphone,
    calleephone,
    status: 'calleeoffline',
    type: 'call',
  };
}

/** The seed's 15 s: a caller waits this long for the ack of `callthisperson`. */
export const CALL_ACK_TIMEOUT_MS = 15_000;

/**
 * cloudkibo: `caller` (phone `callerphone`) calls `calleephone` with an
 * ack; checks the ack `{status: "ok", calleephone}` and returns its entry.
 */
export async function callThisPerson(caller, callerphone, calleephone) {
  const ack = await caller.request(
    'callthisperson',
    { room: 'globalchatroom', callerphone, calleephone },
    { timeout: CALL_ACK_TIMEOUT_MS },
  );
  assert.deepEqual(ack.args, [{ status: 'ok', calleephone }], `${caller.label}: ack of callthisperson`);
  return ack;
}

/** Fetches `http://addr{path}` without following redirects. */
export async function httpGet(addr, path) {
  const res = await fetch(`http://${addr}${path}`, { redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}
