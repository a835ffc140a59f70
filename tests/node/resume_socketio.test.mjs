// Session resume (Step 11) for the socket.io dialects, cloudkibo (seed 000)
// and tringtring (seed 001), played by the real socket.io-client 4.x and
// 2.x over WebSocket against switchboard at /socket.io/.
//
// A client opts in with the handshake query `resume=1` and is greeted with
// `session {resume: TOKEN}`. When its transport drops without a socket.io
// disconnect packet (here: its TCP socket is destroyed under the client),
// the server holds the session for --resume-window, queues up to
// --resume-buffer events for it and tells the other party nothing; a new
// socket with `resume=TOKEN` takes it back (`session {resume, resumed:
// true}`, then the queue, in order, once). A wrong, used or expired token
// gets `error {message, code: 4004}` and a disconnect.
//
// Every test starts its own server, so the /metrics figures it reads are
// its own. Every step waits for the event it expects (or polls /metrics, one
// read per turn of the event loop); timeouts are failure bounds only.
// "Nothing else arrived" is shown by order: `barrier` (support/socketio.mjs)
// sends an event answered with `error`, which must be the next event.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import { startSwitchboard } from './support/servers.mjs';
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
} from './support/socketio.mjs';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ICE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

/** The refusal of a wrong, used or expired token. */
const REFUSAL = { message: 'resume refused: the token is wrong, used or expired', code: 4004 };

/** A window short enough to wait out in a test. */
const SHORT_WINDOW = ['--resume-window', '1s'];
/** How long a held session's end may take to reach the other party with SHORT_WINDOW. */
const WINDOW_TIMEOUT_MS = 10_000;

const HELD = 'switchboard_sessions_held';
const RESUMES = 'switchboard_resumes_total';
const EXPIRED_WINDOW = 'switchboard_held_sessions_expired_total{cause="window"}';
const EXPIRED_BUFFER = 'switchboard_held_sessions_expired_total{cause="buffer"}';

// ---------------------------------------------------------------------------
// Servers, metrics and sockets.

/** Reads GET /metrics into a map from `name{labels}` to its number. */
async function readMetrics(addr) {
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
async function metric(addr, key) {
  const values = await readMetrics(addr);
  assert.ok(values.has(key), `/metrics has no ${key}`);
  return values.get(key);
}

/**
 * Resolves once /metrics shows `key` = `value`, reading it again on each
 * turn of the event loop; fails after `timeout` with the last value.
 */
async function waitForMetric(addr, key, value, { timeout = STEP_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = await metric(addr, key);
    if (now === value) return;
    if (Date.now() > deadline) throw new Error(`${key} is ${now}, not ${value}, after ${timeout} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The held, resumed and expired figures at once, for one assertion. */
async function resumeFigures(addr) {
  const values = await readMetrics(addr);
  return Object.fromEntries([HELD, RESUMES, EXPIRED_WINDOW, EXPIRED_BUFFER].map((key) => [key, values.get(key)]));
}

function figures({ held = 0, resumes = 0, window = 0, buffer = 0 } = {}) {
  return { [HELD]: held, [RESUMES]: resumes, [EXPIRED_WINDOW]: window, [EXPIRED_BUFFER]: buffer };
}

/**
 * One test's server (`extraArgs` for switchboard) and its sockets, all
 * closed when the test ends.
 */
async function setUp(t, client, extraArgs = []) {
  const server = await startSwitchboard(extraArgs);
  const sockets = [];
  t.after(async () => {
    for (const sio of sockets) sio.close();
    await server.stop();
  });
  const { name } = CLIENTS[client];
  const open = async (label, query) => {
    const sio = await connectWith(server.addr, client, query, `${label} (${name})`);
    sockets.push(sio);
    return sio;
  };
  return {
    server,
    addr: server.addr,
    /** A socket that does not ask for resume. */
    plain: (label) => open(label, undefined),
    /** A socket opened with `resume=1`; checks the greeting and returns `{sio, token}`. */
    async resumable(label) {
      const sio = await open(label, { resume: '1' });
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
    async resume(label, token) {
      const sio = await open(label, { resume: token });
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
    async refused(label, token) {
      const sio = await open(label, { resume: token });
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
function connectWith(addr, client, query, label) {
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
async function dropTransport(sio) {
  const transport = sio.socket.io.engine.transport;
  assert.equal(transport.name, 'websocket', `${sio.label}: the WebSocket transport`);
  transport.ws._socket.destroy();
  await waitFor(sio, () => sio.disconnected, { what: `${sio.label} sees its transport close` });
  assert.equal(sio.disconnectReason, 'transport close', `${sio.label}: disconnect reason`);
}

/** The next `events.length` events of `sio` must be `events` ([name, payload]), in order. */
async function expectInOrder(sio, events, { also = [] } = {}) {
  for (const [i, [event, payload]] of events.entries()) {
    const got = await sio.expect(event, { also });
    assert.deepEqual(got, payload, `${sio.label}: event ${i + 1} of ${events.length} ('${event}')`);
  }
}

// ---------------------------------------------------------------------------
// cloudkibo.

/** `from` sends `message {to, msg}`; each of `to` must get `msg` as sent. */
async function relayMessage(from, to, toPhone, msg) {
  from.emit('message', { to: toPhone, msg });
  assert.deepEqual(await to.expect('message', { also: [from] }), msg, `${to.label}: relayed message`);
}

/**
 * An accepted call from `a` (phone pa) to `b` (phone pb) with its media
 * room: ring, calleeisavailable, callaccepted, room_name, both `init`, and
 * an SDP offer/answer through `msg`. Returns the media room ids.
 */
async function cloudkiboCall(a, pa, b, pb) {
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
function iceMsg(to, by, i) {
  return { to, by, type: 'ice', ice: { ...ICE, sdpMLineIndex: i } };
}

/** The caller learns that the callee's session ended: callended (disconnected) and peer.disconnected. */
async function expectCalleeGone(a, pa, pb, idB, opts) {
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
async function coreRoundTripCloudkibo(a, pa) {
  const stranger = unique('+1555s');
  a.emit('message', { to: stranger, msg: callMsg(pa, stranger, 'calleeisavailable') });
  const entry = await a.next();
  assert.equal(entry.event, 'error', `${a.label}: expected the refusal of its own message next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
}

function cloudkiboTests(client) {
  const label = `${CLIENTS[client].name} over websocket`;
  describe(`cloudkibo resume with ${label}`, () => {
    /** Two phones in a call; the callee b opted in to resume. */
    async function call(t, extraArgs) {
      const env = await setUp(t, client, extraArgs);
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await env.plain('caller');
      const { sio: b, token } = await env.resumable('callee');
      const { idA, idB } = await cloudkiboCall(a, pa, b, pb);
      return { ...env, a, b, pa, pb, idA, idB, token };
    }

    test('mid-call drop: held, queued ICE and message come back in order once, the caller hears nothing, then relays and hang-up work', async (t) => {
      const { addr, a, b, pa, pb, idA, idB, token, resume } = await call(t);
      await dropTransport(b);
      await waitForMetric(addr, HELD, 1);

      // While b is away: three ICE candidates in the media room and one
      // call message through the phone.
      const queued = [0, 1, 2].map((i) => ['msg', iceMsg(idB, idA, i)]);
      for (const [, { to, type, ice }] of queued) a.emit('msg', { to, by: idA, type, ice });
      const video = { callerphone: pa, calleephone: pb, type: 'video', video: false };
      a.emit('message', { to: pb, msg: video });
      queued.push(['message', video]);
      // The caller got nothing (no callended, no peer.disconnected): the next
      // thing it sees answers its own request.
      await coreRoundTripCloudkibo(a, pa);
      assert.equal(await metric(addr, HELD), 1, 'still held after the four events');

      const { sio: b2 } = await resume('callee, resumed', token);
      await expectInOrder(b2, queued, { also: [a] });
      await barrier(b2, 'cloudkibo'); // exactly once: nothing after them
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));

      // The session is b's old one: same media id, same phone, same call.
      a.emit('msg', iceMsg(idB, idA, 7));
      assert.deepEqual(await b2.expect('msg', { also: [a] }), iceMsg(idB, idA, 7));
      b2.emit('msg', { to: idA, by: idB, type: 'ice', ice: ICE });
      assert.deepEqual(await a.expect('msg', { also: [b2] }), iceMsg(idA, idB, 0));
      await relayMessage(b2, a, pa, { callerphone: pa, calleephone: pb, type: 'video', video: true });
      await relayMessage(a, b2, pb, { callerphone: pa, calleephone: pb, type: 'video', video: true });

      // Hang-up from the resumed side reaches the caller as ever.
      b2.emit('message', { to: pa, msg: callMsg(pa, pb, 'callended') });
      assert.deepEqual(await a.expect('message', { also: [b2] }), { ...callMsg(pa, pb, 'callended'), reason: 'hangup' });
      // And a clean close leaves the media room: the caller sees b's old id go.
      b2.socket.disconnect();
      assert.deepEqual(await a.expect('peer.disconnected'), { id: idB });
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));
    });

    test('the window (1 s) passes without a resume: the caller gets callended and peer.disconnected, cause="window"', async (t) => {
      const { addr, a, b, pa, pb, idB } = await call(t, SHORT_WINDOW);
      await dropTransport(b);
      await waitForMetric(addr, HELD, 1);
      await expectCalleeGone(a, pa, pb, idB, { timeout: WINDOW_TIMEOUT_MS });
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await resumeFigures(addr), figures({ window: 1 }));
    });

    test('buffer overflow (--resume-buffer 3): three events are held, the fourth ends the session at once, cause="buffer"', async (t) => {
      const { addr, a, b, pa, pb, idA, idB, token, refused } = await call(t, ['--resume-buffer', '3']);
      await dropTransport(b);
      await waitForMetric(addr, HELD, 1);
      for (const i of [0, 1, 2]) a.emit('msg', iceMsg(idB, idA, i));
      await coreRoundTripCloudkibo(a, pa);
      assert.deepEqual(await resumeFigures(addr), figures({ held: 1 }), 'three events fit the buffer');
      a.emit('msg', iceMsg(idB, idA, 3));
      // The default 30 s window is far beyond the step timeout: this is the buffer.
      await expectCalleeGone(a, pa, pb, idB);
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await resumeFigures(addr), figures({ buffer: 1 }));
      await refused('callee, too late', token);
    });

    test('wrong, used and expired tokens: error code 4004 and a disconnect; other sessions go on', async (t) => {
      const { addr, a, b, pa, pb, idA, idB, token, resume, refused } = await call(t);
      // Wrong: well-formed (43 base64url characters) but never issued, and plain garbage.
      await refused('wrong token', 'A'.repeat(43));
      await refused('garbage token', 'not-a-token');
      // The call is untouched: b is still attached, a heard nothing.
      await barrier(a, 'cloudkibo');
      await barrier(b, 'cloudkibo');
      a.emit('msg', iceMsg(idB, idA, 1));
      assert.deepEqual(await b.expect('msg', { also: [a] }), iceMsg(idB, idA, 1));

      // Used: after a resume the old token is spent.
      await dropTransport(b);
      await waitForMetric(addr, HELD, 1);
      const { sio: b2 } = await resume('callee, resumed', token);
      await refused('used token', token);
      await barrier(b2, 'cloudkibo');
      await barrier(a, 'cloudkibo');
      await relayMessage(a, b2, pb, { callerphone: pa, calleephone: pb, type: 'video', video: true });
      b2.emit('msg', { to: idA, by: idB, type: 'ice', ice: ICE });
      assert.deepEqual(await a.expect('msg', { also: [b2] }), iceMsg(idA, idB, 0));
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));

      // Expired: a server with a 1 s window, a session left to expire.
      const short = await setUp(t, client, SHORT_WINDOW);
      const [pc, pd] = [unique('+1555c'), unique('+1555d')];
      const c = await short.plain('caller');
      const { sio: d, token: dToken } = await short.resumable('callee');
      const ids = await cloudkiboCall(c, pc, d, pd);
      await dropTransport(d);
      await expectCalleeGone(c, pc, pd, ids.idB, { timeout: WINDOW_TIMEOUT_MS });
      await short.refused('expired token', dToken);
      await barrier(c, 'cloudkibo');
      assert.deepEqual(await resumeFigures(short.addr), figures({ window: 1 }));
    });

    test('a clean disconnect() ends an opted-in session at once: the caller is told, nothing is held', async (t) => {
      const { addr, a, b, pa, pb, idB, token, refused } = await call(t);
      b.socket.disconnect(); // the socket.io disconnect packet
      // With the default 30 s window, only an immediate end arrives in time.
      await expectCalleeGone(a, pa, pb, idB);
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await resumeFigures(addr), figures());
      await refused('callee, after a clean close', token);
    });

    test('a resume while the old socket is connected moves the session to the new socket', async (t) => {
      const { addr, a, b, pa, pb, idA, idB, token, resume } = await call(t);
      const { sio: b2 } = await resume('callee, second device', token);
      await waitFor(b, () => b.disconnected, { what: `${b.label} disconnected by the takeover` });
      assert.equal(b.disconnectReason, 'io server disconnect');
      await barrier(a, 'cloudkibo');
      a.emit('msg', iceMsg(idB, idA, 2));
      assert.deepEqual(await b2.expect('msg', { also: [a] }), iceMsg(idB, idA, 2));
      await relayMessage(b2, a, pa, { callerphone: pa, calleephone: pb, type: 'video', video: true });
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));
    });
  });
}

// ---------------------------------------------------------------------------
// tringtring.

/** A room id as the original's landing page draws it (digits), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** `sio` joins room `id` as `name`; the ack lists `present` (the joiner itself may be listed too). */
async function joinRoom(sio, id, name, present) {
  const ack = await sio.request('join', { room_id: id, peer_name: name });
  const { room_id: ackRoom, peers } = ack.args[0];
  assert.equal(ackRoom, id);
  const others = peers.filter((peer) => peer.peer_id !== sio.id);
  assert.deepEqual(others, present, `${sio.label}: join ack peers ${JSON.stringify(peers)}`);
}

/** `sio` hears that `name` (peer id `peerId`) arrived: user-arrived and user-joined. */
async function expectArrival(sio, peerId, name, roomSize) {
  const events = await sio.expectSet(['user-arrived', 'user-joined']);
  const expected = { peer_name: name, peer_id: peerId, room_size: roomSize };
  assert.deepEqual(events['user-arrived'], expected);
  assert.deepEqual(events['user-joined'], expected);
}

/** An `ice-candidate` as relayed: `from` is the sender's id, or `{name, id}`. */
function assertIce(got, { fromId, fromName, to, candidate }, what) {
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
async function coreRoundTripTringtring(sio, id) {
  const ack = await sio.request('create-room', { room_id: id });
  assert.equal(ack.args[0]?.status, false, `${sio.label}: create-room of a room in use: ${JSON.stringify(ack.args)}`);
  const entry = await sio.next();
  assert.equal(entry.event, 'redirect', `${sio.label}: expected its own redirect next, got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assert.equal(entry.args[0]?.status, false);
}

function tringtringTests(client) {
  const label = `${CLIENTS[client].name} over websocket`;
  describe(`tringtring resume with ${label}`, () => {
    /**
     * A room of two, created from a landing page socket: alice (plain) and
     * bob (opted in), who exchanged an offer and an answer.
     */
    async function room(t, extraArgs) {
      const env = await setUp(t, client, extraArgs);
      const id = roomId();
      const landing = await env.plain('landing page');
      const created = await landing.request('create-room', { room_id: id });
      assert.deepEqual(created.args, [{ status: true, url_extend: `r/${id}` }]);
      assert.deepEqual(await landing.expect('redirect'), { status: true, url_extend: `r/${id}` });
      const alice = await env.plain('alice');
      const { sio: bob, token } = await env.resumable('bob');
      await joinRoom(alice, id, 'alice', []);
      await joinRoom(bob, id, 'bob', [{ peer_name: 'alice', peer_id: alice.id }]);
      await expectArrival(alice, bob.id, 'bob', 2);
      alice.emit('offer', { from: { name: 'alice', id: alice.id }, to: bob.id, type: 'offer', sdp: SDP_OFFER });
      assert.deepEqual(await bob.expect('offer', { also: [alice] }), { from: { name: 'alice', id: alice.id }, to: bob.id, type: 'offer', sdp: SDP_OFFER });
      bob.emit('answer', { from: { name: 'bob', id: bob.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob] }), { from: { name: 'bob', id: bob.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');
      // Other sockets know bob by this id for the whole session.
      return { ...env, id, alice, bob, bobId: bob.id, token };
    }

    /** alice sends ICE candidate number `i` to bob's peer id. */
    function aliceIce(alice, bobId, i) {
      alice.emit('ice-candidate', { from: alice.id, to: bobId, candidate: { ...ICE, sdpMLineIndex: i } });
    }

    async function expectAliceIce(bob, alice, bobId, i) {
      const got = await bob.expect('ice-candidate', { also: [alice] });
      assertIce(got, { fromId: alice.id, fromName: 'alice', to: bobId, candidate: { ...ICE, sdpMLineIndex: i } }, `${bob.label}: candidate ${i}`);
    }

    test('mid-call drop: held, queued ICE and offer come back in order once, alice hears nothing, then relays and leaving work', async (t) => {
      const { addr, id, alice, bob, bobId, token, resume } = await room(t);
      await dropTransport(bob);
      await waitForMetric(addr, HELD, 1);

      // While bob is away: three candidates and a new offer.
      for (const i of [0, 1, 2]) aliceIce(alice, bobId, i);
      alice.emit('offer', { from: { name: 'alice', id: alice.id }, to: bobId, type: 'offer', sdp: SDP_OFFER });
      // alice got no user-left: the next thing she sees answers her own request.
      await coreRoundTripTringtring(alice, id);
      assert.equal(await metric(addr, HELD), 1, 'still held after the four events');

      const { sio: bob2 } = await resume('bob, resumed', token);
      for (const i of [0, 1, 2]) await expectAliceIce(bob2, alice, bobId, i);
      assert.deepEqual(await bob2.expect('offer', { also: [alice] }), { from: { name: 'alice', id: alice.id }, to: bobId, type: 'offer', sdp: SDP_OFFER });
      await barrier(bob2, 'tringtring'); // exactly once: nothing after them
      await barrier(alice, 'tringtring');
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));

      // bob is still in the room under his old peer id.
      bob2.emit('answer', { from: { name: 'bob', id: bob2.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob2] }), { from: { name: 'bob', id: bobId }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      bob2.emit('ice-candidate', { from: bobId, to: alice.id, candidate: ICE });
      assertIce(await alice.expect('ice-candidate', { also: [bob2] }), { fromId: bobId, fromName: 'bob', to: alice.id, candidate: ICE }, `${alice.label}: bob's candidate`);
      aliceIce(alice, bobId, 5);
      await expectAliceIce(bob2, alice, bobId, 5);

      // bob leaves: alice hears it as ever, under the old id.
      bob2.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bobId });
      assert.deepEqual(await alice.expect('user-left', { also: [bob2] }), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      await barrier(bob2, 'tringtring');
    });

    test('the window (1 s) passes without a resume: alice gets user-left, cause="window"', async (t) => {
      const { addr, alice, bob, bobId } = await room(t, SHORT_WINDOW);
      await dropTransport(bob);
      await waitForMetric(addr, HELD, 1);
      assert.deepEqual(await alice.expect('user-left', { timeout: WINDOW_TIMEOUT_MS }), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await resumeFigures(addr), figures({ window: 1 }));
    });

    test('buffer overflow (--resume-buffer 3): three events are held, the fourth ends the session at once, cause="buffer"', async (t) => {
      const { addr, id, alice, bob, bobId, token, refused } = await room(t, ['--resume-buffer', '3']);
      await dropTransport(bob);
      await waitForMetric(addr, HELD, 1);
      for (const i of [0, 1, 2]) aliceIce(alice, bobId, i);
      await coreRoundTripTringtring(alice, id);
      assert.deepEqual(await resumeFigures(addr), figures({ held: 1 }), 'three events fit the buffer');
      aliceIce(alice, bobId, 3);
      // The default 30 s window is far beyond the step timeout: this is the buffer.
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await resumeFigures(addr), figures({ buffer: 1 }));
      await refused('bob, too late', token);
    });

    test('wrong, used and expired tokens: error code 4004 and a disconnect; other sessions go on', async (t) => {
      const { addr, alice, bob, bobId, token, resume, refused } = await room(t);
      await refused('wrong token', 'A'.repeat(43));
      await refused('garbage token', 'not-a-token');
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');
      aliceIce(alice, bobId, 1);
      await expectAliceIce(bob, alice, bobId, 1);

      await dropTransport(bob);
      await waitForMetric(addr, HELD, 1);
      const { sio: bob2 } = await resume('bob, resumed', token);
      await refused('used token', token);
      await barrier(bob2, 'tringtring');
      await barrier(alice, 'tringtring');
      aliceIce(alice, bobId, 2);
      await expectAliceIce(bob2, alice, bobId, 2);
      bob2.emit('answer', { from: { name: 'bob', id: bobId }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob2] }), { from: { name: 'bob', id: bobId }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));

      // Expired: a server with a 1 s window, a session left to expire.
      const short = await setUp(t, client, SHORT_WINDOW);
      const rid = roomId();
      const carol = await short.plain('carol');
      const { sio: dave, token: daveToken } = await short.resumable('dave');
      await joinRoom(carol, rid, 'carol', []);
      await joinRoom(dave, rid, 'dave', [{ peer_name: 'carol', peer_id: carol.id }]);
      await expectArrival(carol, dave.id, 'dave', 2);
      const daveId = dave.id;
      await dropTransport(dave);
      assert.deepEqual(await carol.expect('user-left', { timeout: WINDOW_TIMEOUT_MS }), { peer_id: daveId });
      await short.refused('expired token', daveToken);
      await barrier(carol, 'tringtring');
      assert.deepEqual(await resumeFigures(short.addr), figures({ window: 1 }));
    });

    test('a clean disconnect() ends an opted-in session at once: alice gets user-left, nothing is held', async (t) => {
      const { addr, alice, bob, bobId, token, refused } = await room(t);
      bob.socket.disconnect(); // the socket.io disconnect packet
      // With the default 30 s window, only an immediate end arrives in time.
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await resumeFigures(addr), figures());
      await refused('bob, after a clean close', token);
    });

    test('a resume while the old socket is connected moves the session to the new socket', async (t) => {
      const { addr, alice, bob, bobId, token, resume } = await room(t);
      const { sio: bob2 } = await resume('bob, second tab', token);
      await waitFor(bob, () => bob.disconnected, { what: `${bob.label} disconnected by the takeover` });
      assert.equal(bob.disconnectReason, 'io server disconnect');
      await barrier(alice, 'tringtring');
      aliceIce(alice, bobId, 4);
      await expectAliceIce(bob2, alice, bobId, 4);
      assert.deepEqual(await resumeFigures(addr), figures({ resumes: 1 }));
    });
  });
}

for (const client of ['v4', 'v2']) {
  cloudkiboTests(client);
  tringtringTests(client);
}
