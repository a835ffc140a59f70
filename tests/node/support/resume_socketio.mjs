// Helpers of the socket.io resume tests (resume_socketio.test.mjs on one
// node, resume_socketio_cluster.test.mjs across nodes): the payloads, the
// resume metrics, opening resumable sockets and dropping their transport,
// and the cloudkibo and tringtring steps those tests share.

import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import {
  CLIENTS,
  STEP_TIMEOUT_MS,
  SioClient,
  barrier,
  callMsg,
  callThisPerson,
  joinGlobalChatroom,
  unique,
  waitFor,
} from './socketio.mjs';

export const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
export const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
export const ICE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

/** The refusal of a wrong, used or expired token. */
export const REFUSAL = { message: 'resume refused: the token is wrong, used or expired', code: 4004 };

/** A window short enough to wait out in a test. */
export const SHORT_WINDOW = ['--resume-window', '1s'];
/** How long a held session's end may take to reach the other party with SHORT_WINDOW. */
export const WINDOW_TIMEOUT_MS = 10_000;

export const HELD = 'switchboard_sessions_held';
export const RESUMES = 'switchboard_resumes_total';
export const EXPIRED_WINDOW = 'switchboard_held_sessions_expired_total{cause="window"}';
export const EXPIRED_BUFFER = 'switchboard_held_sessions_expired_total{cause="buffer"}';

// ---------------------------------------------------------------------------
// Metrics.

/** Reads GET /metrics into a map from `name{labels}` to its number. */
export async function readMetrics(addr) {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const values = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The metric `key` now; it must be exported. */
export async function metric(addr, key) {
  const values = await readMetrics(addr);
  assert.ok(values.has(key), `/metrics has no ${key}`);
  return values.get(key);
}

/**
 * Resolves once /metrics shows `key` = `value`, reading it again on each
 * turn of the event loop; fails after `timeout` with the last value.
 */
export async function waitForMetric(addr, key, value, { timeout = STEP_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = await metric(addr, key);
    if (now === value) return;
    if (Date.now() > deadline) throw new Error(`${key} is ${now}, not ${value}, after ${timeout} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * `key` (`name` or `name{labels}`) as a node of a cluster exports it, with
 * its `node="<id>"` label first; `key` itself when `node` is undefined.
 */
export function onNode(key, node) {
  if (node === undefined) return key;
  const brace = key.indexOf('{');
  return brace < 0 ? `${key}{node="${node}"}` : `${key.slice(0, brace)}{node="${node}",${key.slice(brace + 1)}`;
}

/**
 * The held, resumed and expired figures at once, for one assertion, by
 * their unlabelled keys (as `figures` gives them); on a cluster, those of
 * the node with id `node`.
 */
export async function resumeFigures(addr, node) {
  const values = await readMetrics(addr);
  return Object.fromEntries([HELD, RESUMES, EXPIRED_WINDOW, EXPIRED_BUFFER].map((key) => [key, values.get(onNode(key, node))]));
}

export function figures({ held = 0, resumes = 0, window = 0, buffer = 0 } = {}) {
  return { [HELD]: held, [RESUMES]: resumes, [EXPIRED_WINDOW]: window, [EXPIRED_BUFFER]: buffer };
}

// ---------------------------------------------------------------------------
// Sockets.

/**
 * Opening resumable sockets with socket.io-client `client` ('v2' | 'v4'):
 * each socket opened is pushed on `track` (for the test to close). Every
 * method takes the node's address first, so one test may open sockets on
 * several nodes of a cluster.
 */
export function resumeSockets(client, track) {
  const { name } = CLIENTS[client];
  const open = async (addr, label, query) => {
    const sio = await connectWith(addr, client, query, `${label} (${name})`);
    track.push(sio);
    return sio;
  };
  return {
    /** A socket that does not ask for resume. */
    plain: (addr, label) => open(addr, label, undefined),
    /** A socket opened with `resume=1`; checks the greeting and returns `{sio, token}`. */
    async resumable(addr, label) {
      const sio = await open(addr, label, { resume: '1' });
      const greeting = await sio.expectEntry('session');
      assert.equal(greeting.args.length, 1, `${sio.label}: session carries one argument: ${JSON.stringify(greeting.args)}`);
      const [{ resume: token, ...rest }] = greeting.args;
      assert.equal(typeof token, 'string', `${sio.label}: session ${JSON.stringify(greeting.args)}`);
      assert.ok(token.length > 0 && token !== '1', `${sio.label}: a token: ${JSON.stringify(token)}`);
      assert.deepEqual(rest, {}, `${sio.label}: a fresh session is not marked resumed`);
      return { sio, token };
    },
    /**
     * A new socket with `resume=token`; its first event must be `session
     * {resume: NEW, resumed: true}`. Returns `{sio, token: NEW}`.
     */
    async resume(addr, label, token) {
      const sio = await open(addr, label, { resume: token });
      const greeting = await sio.expectEntry('session');
      assert.equal(greeting.args.length, 1, `${sio.label}: session carries one argument: ${JSON.stringify(greeting.args)}`);
      const [{ resume: fresh, resumed, ...rest }] = greeting.args;
      assert.equal(resumed, true, `${sio.label}: session ${JSON.stringify(greeting.args)}`);
      assert.equal(typeof fresh, 'string');
      assert.ok(fresh.length > 0);
      assert.notEqual(fresh, token, `${sio.label}: the token rotates on a resume`);
      assert.deepEqual(rest, {});
      return { sio, token: fresh };
    },
    /** A socket with `resume=token` must get `error` {message, code: 4004}, then be disconnected, and nothing else. */
    async refused(addr, label, token) {
      const sio = await open(addr, label, { resume: token });
      const entry = await sio.next();
      assert.equal(entry.event, 'error', `${sio.label}: expected 'error' for a refused token, got '${entry.event}' ${JSON.stringify(entry.args)}`);
      assert.deepEqual(entry.args, [REFUSAL], `${sio.label}: the refusal`);
      await waitFor(sio, () => sio.disconnected, { what: `${sio.label} disconnected after the refusal` });
      assert.equal(sio.disconnectReason, 'io server disconnect', `${sio.label}: the server disconnects it`);
      assert.equal(sio.received.length, 1, `${sio.label}: only the refusal arrived: ${sio.describeReceived()}`);
    },
  };
}

/**
 * Connects a socket.io-client `client` ('v2' | 'v4') over WebSocket only,
 * with the handshake `query` (v4: an object; v2: the string form, which
 * socket.io-client 2 also takes), and resolves once it is connected.
 */
export function connectWith(addr, client, query, label) {
  const { io } = CLIENTS[client];
  let handshake = query;
  if (client === 'v2' && query) handshake = new URLSearchParams(query).toString();
  const socket = io(`http://${addr}`, {
    path: '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: STEP_TIMEOUT_MS,
    ...(handshake ? { query: handshake } : {}),
  });
  const sio = new SioClient(socket, label);
  return new Promise((resolve, reject) => {
    const fail = (err) => {
      clearTimeout(timer);
      sio.close();
      reject(new Error(`${label} could not connect to http://${addr}/socket.io/: ${err?.message ?? err}`));
    };
    const timer = setTimeout(() => fail(new Error(`not connected within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(sio);
    });
    socket.once('connect_error', fail);
  });
}

/**
 * Destroys the TCP socket under `sio`'s WebSocket transport: the server
 * sees the connection end with no WebSocket close frame and no socket.io
 * disconnect packet, as when a phone loses its network. Resolves once the
 * client has seen its transport close.
 */
export async function dropTransport(sio) {
  const transport = sio.socket.io.engine.transport;
  assert.equal(transport.name, 'websocket', `${sio.label}: the WebSocket transport`);
  transport.ws._socket.destroy();
  await waitFor(sio, () => sio.disconnected, { what: `${sio.label} sees its transport close` });
  assert.equal(sio.disconnectReason, 'transport close', `${sio.label}: disconnect reason`);
}

/** The next `events.length` events of `sio` must be `events` ([name, payload]), in order. */
export async function expectInOrder(sio, events, { also = [] } = {}) {
  for (const [i, [event, payload]] of events.entries()) {
    const got = await sio.expect(event, { also });
    assert.deepEqual(got, payload, `${sio.label}: event ${i + 1} of ${events.length} ('${event}')`);
  }
}

// ---------------------------------------------------------------------------
// cloudkibo.

/** `from` sends `message {to, msg}`; each of `to` must get `msg` as sent. */
export async function relayMessage(from, to, toPhone, msg) {
  from.emit('message', { to: toPhone, msg });
  assert.deepEqual(await to.expect('message', { also: [from] }), msg, `${to.label}: relayed message`);
}

/**
 * An accepted call from `a` (phone pa) to `b` (phone pb) with its media
 * room: ring, calleeisavailable, callaccepted, room_name, both `init`, and
 * an SDP offer/answer through `msg`. Returns the media room ids.
 */
export async function cloudkiboCall(a, pa, b, pb) {
  await joinGlobalChatroom(a, pa);
  await joinGlobalChatroom(b, pb);
  await callThisPerson(a, pa, pb);
  assert.deepEqual(await b.expect('areyoufreeforcall'), { callerphone: pa, calleephone: pb, sendersocket: a.id });
  await relayMessage(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
  await relayMessage(b, a, pa, callMsg(pa, pb, 'callaccepted'));
  const room = unique('room');
  await relayMessage(a, b, pb, { callerphone: pa, calleephone: pb, type: 'room_name', room_name: room });
  const [, idA] = (await a.request('init', { room, username: pa })).args;
  const [, idB] = (await b.request('init', { room, username: pb })).args;
  assert.equal(typeof idA, 'number');
  assert.equal(typeof idB, 'number');
  assert.deepEqual(await a.expect('peer.connected'), { id: idB, username: pb });
  a.emit('msg', { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
  assert.deepEqual(await b.expect('msg', { also: [a] }), { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
  b.emit('msg', { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
  assert.deepEqual(await a.expect('msg', { also: [b] }), { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
  await barrier(a, 'cloudkibo');
  await barrier(b, 'cloudkibo');
  return { idA, idB };
}

/** The ICE candidate `msg` number `i` from media id `by` to `to`, as the addressee gets it. */
export function iceMsg(to, by, i) {
  return { to, by, type: 'ice', ice: { ...ICE, sdpMLineIndex: i } };
}

/** The caller learns that the callee's session ended: callended (disconnected) and peer.disconnected. */
export async function expectCalleeGone(a, pa, pb, idB, opts) {
  const events = await a.expectSet(['message', 'peer.disconnected'], opts);
  assert.deepEqual(events.message, { ...callMsg(pa, pb, 'callended'), reason: 'disconnected' }, `${a.label}: call ended`);
  assert.deepEqual(events['peer.disconnected'], { id: idB }, `${a.label}: media room peer gone`);
}

/**
 * A round trip through the server's core for a cloudkibo socket that
 * changes nothing: a call message to a phone it has no call with is
 * refused. Its `error` comes after everything the socket sent before was
 * handled.
 */
export async function coreRoundTripCloudkibo(a, pa) {
  const stranger = unique('+1555s');
  a.emit('message', { to: stranger, msg: callMsg(pa, stranger, 'calleeisavailable') });
  const entry = await a.next();
  assert.equal(entry.event, 'error', `${a.label}: expected the refusal of its own message next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
}

// ---------------------------------------------------------------------------
// tringtring.

/** A room id as the original's landing page draws it (digits), unique here. */
export function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** `sio` joins room `id` as `name`; the ack lists `present` (the joiner itself may be listed too). */
export async function joinRoom(sio, id, name, present) {
  const ack = await sio.request('join', { room_id: id, peer_name: name });
  const { room_id: ackRoom, peers } = ack.args[0];
  assert.equal(ackRoom, id);
  const others = peers.filter((peer) => peer.peer_id !== sio.id);
  assert.deepEqual(others, present, `${sio.label}: join ack peers ${JSON.stringify(peers)}`);
}

/** `sio` hears that `name` (peer id `peerId`) arrived: user-arrived and user-joined. */
export async function expectArrival(sio, peerId, name, roomSize) {
  const events = await sio.expectSet(['user-arrived', 'user-joined']);
  const expected = { peer_name: name, peer_id: peerId, room_size: roomSize };
  assert.deepEqual(events['user-arrived'], expected);
  assert.deepEqual(events['user-joined'], expected);
}

/** An `ice-candidate` as relayed: `from` is the sender's id, or `{name, id}`. */
export function assertIce(got, { fromId, fromName, to, candidate }, what) {
  assert.deepEqual(Object.keys(got).sort(), ['candidate', 'from', 'to'], `${what}: ${JSON.stringify(got)}`);
  assert.equal(got.to, to, what);
  assert.deepEqual(got.candidate, candidate, what);
  assert.ok(got.from === fromId || isDeepStrictEqual(got.from, { name: fromName, id: fromId }), `${what}: from ${JSON.stringify(got.from)}`);
}

/**
 * A round trip through the server's core for a tringtring socket that
 * changes nothing: `create-room` for the room it is in is refused (ack and
 * `redirect` `{status: false}`), after everything it sent before.
 */
export async function coreRoundTripTringtring(sio, id) {
  const ack = await sio.request('create-room', { room_id: id });
  assert.equal(ack.args[0]?.status, false, `${sio.label}: create-room of a room in use: ${JSON.stringify(ack.args)}`);
  const entry = await sio.next();
  assert.equal(entry.event, 'redirect', `${sio.label}: expected its own redirect next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assert.equal(entry.args[0]?.status, false);
}

/** alice sends ICE candidate number `i` to bob's peer id. */
export function aliceIce(alice, bobId, i) {
  alice.emit('ice-candidate', { from: alice.id, to: bobId, candidate: { ...ICE, sdpMLineIndex: i } });
}

/** bob's next event must be alice's ICE candidate number `i`. */
export async function expectAliceIce(bob, alice, bobId, i) {
  const got = await bob.expect('ice-candidate', { also: [alice] });
  assertIce(got, { fromId: alice.id, fromName: 'alice', to: bobId, candidate: { ...ICE, sdpMLineIndex: i } }, `${bob.label}: candidate ${i}`);
}
