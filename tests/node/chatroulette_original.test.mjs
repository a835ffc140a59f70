// The chatroulette dialect as webrtc-one-to-one's own client speaks it: the
// short form (src/common/messageTypes.js: `c`, `cd`, `rc`, `cr`, `ac`, `ca`,
// ...; bare-string payloads), over a raw WebSocket at /ws/chatroulette.
//
// That client (src/client/Signal.js) emits the `type` of every frame it
// receives as an event on its own EventsEmitter, the same emitter that
// carries its local events: Signal's 'OPEN', 'CLOSE' and 'ERROR' (the
// socket opened, closed, failed) and Client's 'LOCAL_STREAM' and
// 'REMOTE_STREAM'. Application.js treats ERROR and CLOSE as a lost
// connection. So no frame the server sends a short-form client may carry
// one of those names as its type: every frame every client here receives
// is checked on arrival, and again at the end of each test.
//
// The scenarios are the ones where a server is tempted to answer with an
// error: calling yourself, accepting after the ring timeout, accepting after
// the caller left; after each, the client's connection is still open and
// its name still held. Every step waits for the frame it expects (the ring
// timeout too: the test waits for the CALL_CANCELLED frame that shows it
// happened, never for a time); timeouts are failure bounds only. "Nothing
// else arrived" is shown by order (`barrier`).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { startSwitchboard } from './support/servers.mjs';

/** How long one expected frame may take before the test fails. */
const STEP_TIMEOUT_MS = 5_000;

/** The events webrtc-one-to-one's client raises itself (Signal.js, Client.js). */
const LOCAL_EVENTS = new Set(['OPEN', 'CLOSE', 'ERROR', 'LOCAL_STREAM', 'REMOTE_STREAM']);

/** The short form's error frame (switchboard's extension; `{message, request}`). */
const SHORT_ERROR = 'er';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

let counter = 0;
/** A user name unique in this process. */
function uniqueName(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/**
 * One WebSocket to /ws/chatroulette with an ordered record of the frames it
 * received. Each frame must be a JSON object with a string `type`, and (for
 * a short-form client, unless `seed`) not one of LOCAL_EVENTS; a frame that
 * is not is kept in `violations`, and the next `next()` fails with it.
 */
class CrClient {
  constructor(ws, label, { seed = false } = {}) {
    this.ws = ws;
    this.label = label;
    this.seed = seed;
    /** Every frame received, as text, in order. */
    this.frames = [];
    this.violations = [];
    this.queue = [];
    this.waiters = [];
    this.closeInfo = undefined;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        const err = new Error(`${this.label}: connection closed (${code})`);
        for (const waiter of this.waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(err);
        }
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (err) => {
      this.lastError = err;
    });
    ws.on('message', (data, isBinary) => this.onFrame(isBinary ? Buffer.from(data).toString('utf8') : data.toString()));
  }

  static open(addr, label, opts) {
    const ws = new WebSocket(`ws://${addr}/ws/chatroulette`);
    const client = new CrClient(ws, label, opts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: not open within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  onFrame(text) {
    this.frames.push(text);
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this.violations.push(`not JSON: ${text}`);
      return;
    }
    if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') {
      this.violations.push(`no string type: ${text}`);
    } else if (!this.seed && LOCAL_EVENTS.has(frame.type)) {
      this.violations.push(`type '${frame.type}' is one of the client's own events: ${text}`);
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    } else {
      this.queue.push(frame);
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends `{type, payload}` (`{type}` when payload is undefined), as Signal.js's encodeMessage does. */
  send(type, payload) {
    this.ws.send(JSON.stringify({ type, payload }));
  }

  sendRaw(text) {
    this.ws.send(text);
  }

  assertClean() {
    assert.deepEqual(this.violations, [], `${this.label}: frames the original client would take for its own events`);
  }

  /** The next frame received (parsed). */
  next({ timeout = STEP_TIMEOUT_MS, also = [] } = {}) {
    this.assertClean();
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`${this.label}: connection closed (${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (frame) => {
          try {
            this.assertClean();
            resolve(frame);
          } catch (err) {
            reject(err);
          }
        },
        reject,
        timer: null,
      };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        const others = also.map((c) => `; ${c.label} received: ${JSON.stringify(c.frames)}`).join('');
        reject(new Error(`${this.label}: no frame within ${timeout} ms; received so far: ${JSON.stringify(this.frames)}${others}`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /** The next frame must be of `type`; resolves with the frame. */
  async expect(type, opts) {
    const frame = await this.next(opts);
    assert.equal(frame.type, type, `${this.label}: expected '${type}' next, got ${JSON.stringify(frame)}`);
    return frame;
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}

/** The connections of one test: closed afterwards; `assertClean()` checks every frame any of them got. */
class Pool {
  constructor(addr) {
    this.addr = addr;
    this.clients = [];
  }

  async open(label, opts) {
    const client = await CrClient.open(this.addr, label, opts);
    this.clients.push(client);
    return client;
  }

  /** A new connection that claims `name`: `c` → `cd` (no payload). */
  async connect(name, label = name) {
    const client = await this.open(label);
    client.send('c', name);
    const frame = await client.expect('cd');
    assert.equal(frame.payload, undefined, `${label}: cd for a name of one's own carries no payload: ${JSON.stringify(frame)}`);
    return client;
  }

  assertClean() {
    for (const client of this.clients) client.assertClean();
  }

  closeAll() {
    for (const client of this.clients) client.close();
  }
}

/** The short-form error frame: `er` `{message, request}`. */
function assertShortError(client, frame, request) {
  assert.equal(frame.type, SHORT_ERROR, `${client.label}: expected the short-form error, got ${JSON.stringify(frame)}`);
  assert.equal(typeof frame.payload?.message, 'string', `${client.label}: error message in ${JSON.stringify(frame)}`);
  assert.ok(frame.payload.message.length > 0, 'the error message is not empty');
  if (request !== undefined) assert.equal(frame.payload.request, request, `${client.label}: error request in ${JSON.stringify(frame)}`);
}

/** `client` sends `type` `payload`, and the next frame it gets is the short-form error naming `type`. */
async function refused(client, type, payload, request = type) {
  client.send(type, payload);
  assertShortError(client, await client.next(), request);
}

/**
 * Shows that `client` (connected, in no call) has received nothing else so
 * far: it calls a name nobody holds, and the next frame must be `ur`.
 */
async function barrier(client) {
  client.send('rc', uniqueName('nobody'));
  const frame = await client.next();
  assert.equal(frame.type, 'ur', `${client.label}: expected nothing before the barrier's 'ur', got ${JSON.stringify(frame)}`);
}

/**
 * After a refusal: `client`'s connection is open, its `name` is held (a new
 * connection's `c` with it gets `ut`), and it can still call `third` (named
 * `thirdName`), which rings there.
 */
async function stillHeld(pool, client, name, third, thirdName) {
  assert.ok(client.isOpen, `${client.label}: the connection is still open`);
  const impostor = await pool.open(`another ${name}`);
  impostor.send('c', name);
  const taken = await impostor.expect('ut');
  assert.equal(taken.payload, undefined, `ut carries no payload: ${JSON.stringify(taken)}`);
  impostor.close();
  await barrier(client);
  client.send('rc', thirdName);
  assert.deepEqual(await third.expect('cr', { also: [client] }), { type: 'cr', payload: name }, `${third.label}: the call from ${name} rings`);
  assert.ok(client.isOpen, `${client.label}: the connection is still open`);
}

describe('webrtc-one-to-one short form: nothing the server sends looks like one of the client\'s own events', () => {
  let server;
  before(async () => {
    server = await startSwitchboard();
  });
  after(() => server?.stop());

  function pool(t) {
    const p = new Pool(server.addr);
    t.after(() => p.closeAll());
    return p;
  }

  test('calling yourself: refused with er; still connected, the name still held, a call to a third user rings', async (t) => {
    const p = pool(t);
    const alice = uniqueName('alice');
    const carol = uniqueName('carol');
    const a = await p.connect(alice);
    const c = await p.connect(carol);
    await refused(a, 'rc', alice);
    // It did not ring at alice's either.
    await barrier(a);
    await stillHeld(p, a, alice, c, carol);
    p.assertClean();
  });

  test('accepting after the caller left: refused with er; still connected, the name still held', async (t) => {
    const p = pool(t);
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const carol = uniqueName('carol');
    const a = await p.connect(alice);
    const b = await p.connect(bob);
    const c = await p.connect(carol);
    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });

    // The caller's tab closes; the callee is told the call stopped ringing.
    a.close();
    await a.closed;
    assert.deepEqual(await b.expect('ccd'), { type: 'ccd', payload: alice, reason: 'disconnected' });

    // The original page still shows the incoming call, and bob accepts it.
    await refused(b, 'ac', alice);
    await barrier(b);
    await stillHeld(p, b, bob, c, carol);

    // alice's name went with her connection.
    await p.connect(alice, 'alice again');
    p.assertClean();
  });

  test('a short-form call end to end: every frame the server makes for it', async (t) => {
    const p = pool(t);
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const carol = uniqueName('carol');
    const a = await p.connect(alice);
    const b = await p.connect(bob);
    const c = await p.connect(carol);

    // A name taken, a name unknown, a drawn name.
    const impostor = await p.open('another bob');
    impostor.send('c', bob);
    await impostor.expect('ut');
    a.send('rc', uniqueName('nobody'));
    assert.deepEqual(await a.expect('ur'), { type: 'ur' });
    const drawn = await p.open('drawn');
    drawn.send('c');
    const named = await drawn.expect('cd');
    assert.match(String(named.payload), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `cd with a drawn name: ${JSON.stringify(named)}`);

    // Ring, early ICE, accept, offer, answer, ICE.
    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });
    b.send('sic', { to: alice, candidate: CANDIDATE });
    assert.deepEqual(await a.expect('icr', { also: [b] }), { type: 'icr', payload: { from: bob, candidate: CANDIDATE } });
    b.send('ac', alice);
    assert.deepEqual(await a.expect('ca'), { type: 'ca', payload: bob });
    a.send('scd', { to: bob, sdp: SDP_OFFER });
    assert.deepEqual(await b.expect('cdr', { also: [a] }), { type: 'cdr', payload: { from: alice, sdp: SDP_OFFER } });
    b.send('srd', { to: alice, sdp: SDP_ANSWER });
    assert.deepEqual(await a.expect('rdr', { also: [b] }), { type: 'rdr', payload: { from: bob, sdp: SDP_ANSWER } });
    a.send('sic', { to: bob, candidate: { ...CANDIDATE, sdpMLineIndex: 1 } });
    assert.deepEqual(await b.expect('icr', { also: [a] }), { type: 'icr', payload: { from: alice, candidate: { ...CANDIDATE, sdpMLineIndex: 1 } } });

    // bob is busy for carol.
    c.send('rc', bob);
    assert.deepEqual(await c.expect('crj'), { type: 'crj', payload: bob, reason: 'busy' });

    // Hang up, reject, cancel.
    a.send('hu', bob);
    assert.deepEqual(await b.expect('ce'), { type: 'ce', payload: alice, reason: 'hangup' });
    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });
    b.send('rjc', alice);
    assert.deepEqual(await a.expect('crj'), { type: 'crj', payload: bob });
    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });
    a.send('cc', bob);
    assert.deepEqual(await b.expect('ccd'), { type: 'ccd', payload: alice });

    // The callee's connection closes during a call.
    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });
    b.send('ac', alice);
    assert.deepEqual(await a.expect('ca'), { type: 'ca', payload: bob });
    b.close();
    await b.closed;
    assert.deepEqual(await a.expect('ce'), { type: 'ce', payload: bob, reason: 'disconnected' });
    await barrier(a);
    await barrier(c);
    p.assertClean();
  });

  test('every refusal to a short-form client is an er frame, and the connection stays', async (t) => {
    const p = pool(t);
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const a = await p.connect(alice);
    const b = await p.connect(bob);

    a.sendRaw('{not json');
    assertShortError(a, await a.next());
    a.sendRaw('[1, 2]');
    assertShortError(a, await a.next());
    await refused(a, 'xx', 'y');
    await refused(a, 'c', alice);
    await refused(a, 'c', uniqueName('other'));
    await refused(a, 'rc', 42);
    await refused(a, 'rc', [bob]);
    await refused(a, 'rc', {});
    // Not in a call with bob: no relay, no answer, no hang-up.
    await refused(a, 'sic', { to: bob, candidate: CANDIDATE });
    await refused(a, 'scd', { to: bob, sdp: SDP_OFFER });
    await refused(a, 'srd', { to: bob, sdp: SDP_ANSWER });
    await refused(a, 'ac', bob);
    await refused(a, 'rjc', bob);
    await refused(a, 'cc', bob);
    await refused(a, 'hu', bob);
    // Server-to-client types sent to the server.
    await refused(a, 'cd', undefined);
    await refused(a, 'er', { message: 'x' });
    // None of it reached bob.
    await barrier(b);
    await stillHeld(p, a, alice, b, bob);
    p.assertClean();
  });

  test('requests before c: a short-form client is refused in the short form', async (t) => {
    const p = pool(t);
    const early = await p.open('early');
    await refused(early, 'rc', uniqueName('bob'));
    await refused(early, 'ac', uniqueName('bob'));
    // And it can connect after that.
    const name = uniqueName('early');
    early.send('c', name);
    const frame = await early.expect('cd');
    assert.equal(frame.payload, undefined);
    await barrier(early);
    p.assertClean();
  });

  test('the seed form keeps ERROR (full names, object payloads)', async (t) => {
    const p = pool(t);
    const alice = uniqueName('alice');
    const a = await p.open('seed alice', { seed: true });
    a.send('CONNECT', { as: alice });
    assert.deepEqual(await a.expect('CONNECTED'), { type: 'CONNECTED', payload: { as: alice } });
    a.send('REQUEST_CALL', { to: alice });
    const error = await a.next();
    assert.equal(error.type, 'ERROR', `seed-form error: ${JSON.stringify(error)}`);
    assert.equal(typeof error.payload?.message, 'string');
    assert.equal(error.payload.request, 'REQUEST_CALL');
    assert.ok(a.isOpen);
    // A seed-form client (not webrtc-one-to-one's) beside short-form ones:
    // the short-form refusals stay er.
    const bob = uniqueName('bob');
    const b = await p.connect(bob);
    await refused(b, 'rc', bob);
    p.assertClean();
  });
});

describe('webrtc-one-to-one short form with --ring-timeout 1s', () => {
  let server;
  before(async () => {
    server = await startSwitchboard(['--ring-timeout', '1s']);
  });
  after(() => server?.stop());

  test('accepting after the ring timeout: refused with er; still connected, the names still held, a new call rings', async (t) => {
    const p = new Pool(server.addr);
    t.after(() => p.closeAll());
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const carol = uniqueName('carol');
    const a = await p.connect(alice);
    const b = await p.connect(bob);
    const c = await p.connect(carol);

    a.send('rc', bob);
    assert.deepEqual(await b.expect('cr'), { type: 'cr', payload: alice });
    // Nobody answers: the frame that shows the ring timeout happened.
    assert.deepEqual(await b.expect('ccd'), { type: 'ccd', payload: alice, reason: 'timeout' });
    assert.deepEqual(await a.expect('crj'), { type: 'crj', payload: bob, reason: 'timeout' });

    // bob's page still shows the call, and he accepts it too late.
    await refused(b, 'ac', alice);
    // alice hears nothing of it.
    await barrier(a);
    await stillHeld(p, b, bob, c, carol);

    // alice too is still connected, under her name.
    assert.ok(a.isOpen);
    const impostor = await p.open('another alice');
    impostor.send('c', alice);
    await impostor.expect('ut');
    p.assertClean();
  });
});
