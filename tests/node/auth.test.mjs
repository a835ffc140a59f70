// Access tokens with the real clients: socket.io-client 1.x and 2.x carry
// theirs in the handshake's query (`?access_token=`), 4.x in the
// handshake's `auth: {token}` or the query; rtc-lib in its WebSocket URL.
// A missing or forged token gets socket.io's connect error; a token's `sub`
// is the one cloudkibo phone a socket may register and the name tringtring
// sockets and rtc-lib connections are given; its `rooms` claim limits the
// rooms they may enter; lookalike names are refused in each dialect's form.
//
// Tokens are made here with node's crypto (HS256 with a shared secret,
// ES256 with a key pair drawn for the test). Every hostile step comes while
// two other users are in a tringtring call, which must still relay both
// ways afterwards.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

import { startSwitchboard } from './support/servers.mjs';
import { CLIENTS, STEP_TIMEOUT_MS, SioClient, TRANSPORTS, assertErrorPayload, barrier, callThisPerson, calleeOffline, joinGlobalChatroom, unique } from './support/socketio.mjs';

const require = createRequire(import.meta.url);

const SECRET = 'a secret the token issuer and switchboard share';
const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };

const b64url = (data) => Buffer.from(data).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A JWT of `claims` signed with HS256 and `secret` (RFC 7519, in a few lines). */
function hs256(claims, secret = SECRET) {
  const signed = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

/** A JWT of `claims` signed with ES256 (the raw r‖s signature JWS asks for). */
function es256(claims, privateKey) {
  const signed = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${sign('sha256', Buffer.from(signed), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** An HS256 token for `sub`, valid for an hour, with any other claims. */
function token(sub, extra = {}) {
  return hs256({ sub, exp: nowSeconds() + 3600, ...extra });
}

/** Resolves with the arguments of the next `event` of `emitter`; fails after a timeout. */
function nextEvent(emitter, event, { timeout = STEP_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`no '${event}' event within ${timeout} ms`));
    }, timeout);
    const listener = (...args) => {
      clearTimeout(timer);
      emitter.removeListener(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}

/** The HTTP status and body with which a WebSocket upgrade to `url` is refused. */
function upgradeRefusal(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.close();
      reject(new Error(`${url}: upgraded, but should have been refused`));
    });
    ws.once('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        request.destroy(); // ws leaves the connection open once a listener takes the response
        resolve({ status: response.statusCode, body });
      });
    });
    ws.once('error', () => {});
  });
}

/** A room id as Tring-Tring draws them (digits), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/**
 * A socket.io `client` ('v1' | 'v2' | 'v4') socket to switchboard with
 * `options` (query, auth) over `transport`: resolves once connected, or
 * with the refusal's message when `refused` (v4's `connect_error`, or the
 * `error` event of 1.x and 2.x, which take a namespace's refusal so).
 */
function connect(addr, { client, transport = 'websocket', options = {}, refused = false, label }) {
  const { io, name } = CLIENTS[client];
  const socket = io(`http://${addr}`, { path: '/socket.io', transports: TRANSPORTS[transport], forceNew: true, reconnection: false, timeout: STEP_TIMEOUT_MS, ...options });
  const sio = new SioClient(socket, `${label ?? 'socket'} (${name}/${transport})`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(reject, new Error(`${sio.label}: neither connected nor refused within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    const finish = (settle, value) => {
      clearTimeout(timer);
      socket.off('connect', connected);
      socket.off('connect_error', failed);
      socket.off('error', failed);
      settle(value);
    };
    const connected = () => (refused ? finish(reject, new Error(`${sio.label}: connected, but should have been refused`)) : finish(resolve, sio));
    const failed = (error) => {
      const message = typeof error === 'string' ? error : error?.message;
      if (!refused) return finish(reject, new Error(`${sio.label}: refused: ${message}`));
      sio.close();
      finish(resolve, message);
    };
    socket.on('connect', connected);
    socket.on('connect_error', failed);
    socket.on('error', failed);
  });
}

/** How each client carries a token: 1.x and 2.x only in the query. */
function carrying(client, tokenText) {
  return client === 'v4' ? { auth: { token: tokenText } } : { query: { access_token: tokenText } };
}

/**
 * Two users (carol and dave) in a tringtring room, with tokens of their
 * own; `stillRelays()` sends an offer one way and an answer the other.
 */
async function bystanders(addr, sockets) {
  const room = roomId();
  const carol = await connect(addr, { client: 'v4', options: carrying('v4', token('carol')), label: 'carol' });
  const dave = await connect(addr, { client: 'v2', options: carrying('v2', token('dave')), label: 'dave' });
  sockets.push(carol, dave);
  await carol.request('join', { room_id: room, peer_name: 'carol' });
  await dave.request('join', { room_id: room, peer_name: 'dave' });
  await carol.expectSet(['user-arrived', 'user-joined']);
  const call = {
    async stillRelays() {
      carol.emit('offer', { from: { name: 'carol', id: carol.id }, to: dave.id, type: 'offer', sdp: SDP_OFFER });
      assert.deepEqual((await dave.expect('offer', { also: [carol] })).sdp, SDP_OFFER);
      dave.emit('answer', { from: { name: 'dave', id: dave.id }, to: carol.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual((await carol.expect('answer', { also: [dave] })).sdp, SDP_ANSWER);
    },
  };
  await call.stillRelays();
  return call;
}

/** `sio` sends `event` and the next event it gets is `error` whose message is `message`. */
async function refusedWith(sio, event, payload, message) {
  sio.emit(event, payload);
  const entry = await sio.next();
  assert.equal(entry.event, 'error', `${sio.label}: '${event}' should be refused, got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assertErrorPayload(entry.args[0], sio);
  assert.equal(entry.args[0].message, message);
}

/** A chatroulette WebSocket whose next frame after `frame` is returned. */
async function chatroulette(addr, tokenText, frame) {
  const ws = new WebSocket(`ws://${addr}/ws/chatroulette?access_token=${tokenText}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const answer = new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
  ws.send(JSON.stringify(frame));
  const got = await answer;
  ws.close();
  return got;
}

describe('access tokens (HS256) with the real socket.io clients', () => {
  let server;
  const sockets = [];
  before(async () => {
    server = await startSwitchboard(['--auth-jwt-secret', SECRET]);
  });
  after(async () => {
    for (const sio of sockets) sio.close();
    await server?.stop();
  });

  test('each client connects with a token the way it can carry one, and without one gets the connect error', async () => {
    const call = await bystanders(server.addr, sockets);
    const ways = [
      ['v1', 'polling', { query: `access_token=${token('erin')}` }],
      ['v2', 'websocket', { query: { access_token: token('erin') } }],
      ['v2', 'polling', { query: { access_token: token('erin') } }],
      ['v4', 'websocket', { auth: { token: token('erin') } }],
      ['v4', 'polling', { auth: { token: token('erin') } }],
      ['v4', 'websocket', { query: { access_token: token('erin') } }],
    ];
    for (const [client, transport, options] of ways) {
      const sio = await connect(server.addr, { client, transport, options, label: 'erin' });
      sockets.push(sio);
      // Let in, it is served: a tringtring join is answered.
      const ack = await sio.request('join', { room_id: roomId(), peer_name: 'erin' });
      assert.deepEqual(ack.args[0].peers, [], `${sio.label}: join ack`);
      sio.close();
    }
    const forged = hs256({ sub: 'mallory', exp: nowSeconds() + 3600 }, 'a secret mallory guessed');
    const expired = token('mallory', { exp: nowSeconds() - 3600 });
    const refusals = [
      ['v4', {}, 'an access token is needed: ?access_token=<jwt>, or Authorization: Bearer <jwt>'],
      ['v4', { auth: { token: forged } }, "the access token's signature is not valid"],
      ['v4', { auth: { token: expired } }, 'the access token has expired'],
      ['v4', { auth: { token: 42 } }, 'the access token is malformed'],
      ['v2', {}, 'an access token is needed: ?access_token=<jwt>, or Authorization: Bearer <jwt>'],
      ['v2', { query: { access_token: forged } }, "the access token's signature is not valid"],
      ['v1', { query: `access_token=${expired}` }, 'the access token has expired'],
    ];
    for (const [client, options, reason] of refusals) {
      const message = await connect(server.addr, { client, options, refused: true, label: 'mallory' });
      assert.equal(message, reason, `${client} ${JSON.stringify(options)}`);
    }
    await call.stillRelays();
  });

  for (const client of ['v2', 'v4']) {
    test(`cloudkibo with ${CLIENTS[client].name}: a socket registers only its token's phone`, async () => {
      const call = await bystanders(server.addr, sockets);
      const phone = unique('+1555');
      const other = unique('+1555');
      const mallory = await connect(server.addr, { client, options: carrying(client, token(phone)), label: 'mallory' });
      sockets.push(mallory);
      await refusedWith(mallory, 'join global chatroom', { room: 'globalchatroom', user: { phone: other, _id: 'x' } }, `your token does not grant the name ${other}`);
      // Nothing registered: a call to that phone finds it offline.
      const callerPhone = unique('+1555');
      const caller = await connect(server.addr, { client: 'v4', options: carrying('v4', token(callerPhone)), label: 'caller' });
      sockets.push(caller);
      await joinGlobalChatroom(caller, callerPhone);
      await callThisPerson(caller, callerPhone, other);
      assert.deepEqual(await caller.expect('message'), calleeOffline(callerPhone, other));
      // Its own phone is fine, and rings.
      await joinGlobalChatroom(mallory, phone);
      await callThisPerson(caller, callerPhone, phone);
      assert.deepEqual(await mallory.expect('areyoufreeforcall'), { callerphone: callerPhone, calleephone: phone, sendersocket: caller.id });
      await call.stillRelays();
    });
  }

  test("tringtring sockets are their token's sub, and a rooms claim limits the rooms they enter", async () => {
    const call = await bystanders(server.addr, sockets);
    const [allowed, alsoAllowed, forbidden] = [roomId(), roomId(), roomId()];
    const rooms = [allowed, alsoAllowed];
    const erin = await connect(server.addr, { client: 'v4', options: carrying('v4', token('erin', { rooms })), label: 'erin' });
    sockets.push(erin);
    await refusedWith(erin, 'join', { room_id: forbidden, peer_name: 'erin' }, `your token does not grant room ${forbidden}`);
    const ack = await erin.request('create-room', { room_id: forbidden });
    const refusal = { status: false, error: `your token does not grant room ${forbidden}` };
    assert.deepEqual(await erin.expect('redirect'), refusal);
    assert.deepEqual(ack.args, [refusal]);
    const joined = await erin.request('join', { room_id: allowed, peer_name: 'erin' });
    assert.equal(joined.args[0].room_id, allowed);
    // The socket holds the name erin: chatroulette cannot take it meanwhile.
    assert.deepEqual(await chatroulette(server.addr, token('erin'), { type: 'CONNECT' }), { type: 'USERNAME_TAKEN', payload: { as: 'erin' } });
    // A second socket of erin's is fine (tringtring names are never shown),
    // in her other room.
    const again = await connect(server.addr, { client: 'v2', options: carrying('v2', token('erin', { rooms })), label: 'erin again' });
    sockets.push(again);
    const joinedToo = await again.request('join', { room_id: alsoAllowed, peer_name: 'erin' });
    assert.equal(joinedToo.args[0].room_id, alsoAllowed);
    await call.stillRelays();
  });

  test('cloudkibo: a rooms claim limits the media rooms of init', async () => {
    const call = await bystanders(server.addr, sockets);
    const phone = unique('+1555');
    const [allowed, forbidden] = [unique('media'), unique('media')];
    const frank = await connect(server.addr, { client: 'v4', options: carrying('v4', token(phone, { rooms: [allowed] })), label: 'frank' });
    sockets.push(frank);
    await joinGlobalChatroom(frank, phone);
    await refusedWith(frank, 'init', { room: forbidden, username: 'frank' }, `your token does not grant room ${forbidden}`);
    await refusedWith(frank, 'init', { username: 'frank' }, 'your token does not grant a new room');
    const ack = await frank.request('init', { room: allowed, username: 'frank' });
    assert.deepEqual(ack.args, [allowed, 1, false]);
    await call.stillRelays();
  });

  test("lookalike names are refused in cloudkibo's and tringtring's form, and NFKC-equal names are one", async () => {
    const call = await bystanders(server.addr, sockets);
    const lookalike = await connect(server.addr, { client: 'v4', options: carrying('v4', token('\u0430lice')), refused: true });
    assert.equal(lookalike, "the access token's sub is not an acceptable name: name mixes scripts");
    const grace = await connect(server.addr, { client: 'v4', options: carrying('v4', token('grace')), label: 'grace' });
    sockets.push(grace);
    for (const [phone, why] of [['\u0430lice', 'name mixes scripts'], ['+1555\u200b0100', 'name contains an invisible character'], ['\u200f+15550100', 'name contains a bidirectional control character']]) {
      await refusedWith(grace, 'join global chatroom', { room: 'globalchatroom', user: { phone, _id: 'x' } }, `bad phone: ${why}`);
    }
    const heidi = await connect(server.addr, { client: 'v2', options: carrying('v2', token('heidi')), label: 'heidi' });
    sockets.push(heidi);
    await refusedWith(heidi, 'join', { room_id: '12\u200b34', peer_name: 'heidi' }, 'bad room_id: name contains an invisible character');
    await refusedWith(heidi, 'create-room', { room_id: '\u202e4321' }, 'bad room_id: name contains a bidirectional control character');
    // Fullwidth digits are the same room as ASCII ones.
    const room = roomId();
    const fullwidth = [...room].map((digit) => String.fromCodePoint(0xff10 + Number(digit))).join('');
    const ivan = await connect(server.addr, { client: 'v4', options: carrying('v4', token('ivan')), label: 'ivan' });
    sockets.push(ivan);
    await ivan.request('join', { room_id: room, peer_name: 'ivan' });
    const ack = await heidi.request('join', { room_id: fullwidth, peer_name: 'heidi' });
    assert.equal(ack.args[0].room_id, room);
    assert.deepEqual(ack.args[0].peers, [{ peer_name: 'ivan', peer_id: ivan.id }]);
    await ivan.expectSet(['user-arrived', 'user-joined']);
    await barrier(heidi, 'tringtring');
    await call.stillRelays();
  });
});

describe('access tokens (ES256) with rtc-lib', () => {
  let server;
  let keyDir;
  let privateKey;
  const callings = [];
  const quietLog = console.log;

  before(async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    privateKey = pair.privateKey;
    keyDir = mkdtempSync(path.join(tmpdir(), 'switchboard-es256-'));
    const keyFile = path.join(keyDir, 'public.pem');
    writeFileSync(keyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    console.log = () => {}; // rtc-lib's chatter
    server = await startSwitchboard(['--auth-jwt-public-key', keyFile]);
  });
  after(async () => {
    for (const calling of callings) {
      if (calling.state === 'connected') await calling.close();
    }
    await server?.stop();
    // rtc-lib re-arms its keepalive timers on every frame, even after close():
    // stop them once the server, and so every frame, is gone.
    for (const calling of callings) {
      clearTimeout(calling.ping_timeout);
      clearTimeout(calling.timeout_timeout);
    }
    console.log = quietLog;
    rmSync(keyDir, { recursive: true, force: true });
  });

  test("rtc-lib puts its token in the URL, its id is the token's sub, and its rooms claim holds", async () => {
    globalThis.WebSocket = WebSocket;
    globalThis.RTCPeerConnection ??= class { close() {} };
    const rtc = require('rtc-lib');
    const connectCalling = async (url) => {
      const calling = new rtc.Calling(new rtc.WebSocketChannel(url), {});
      callings.push(calling);
      await calling.connect();
      return calling;
    };
    const url = (claims) => `ws://${server.addr}/ws/calling?access_token=${es256({ exp: nowSeconds() + 3600, ...claims }, privateKey)}`;
    const judy = await connectCalling(url({ sub: 'judy', rooms: ['judy-and-karl'] }));
    const karl = await connectCalling(url({ sub: 'karl' }));
    assert.equal(judy.id, 'judy');
    assert.equal(karl.id, 'karl');

    // A legitimate call: judy invites karl into her room, he accepts.
    const room = judy.room('judy-and-karl', {});
    await room.connect();
    const invitationSeen = nextEvent(karl, 'invitation');
    const out = await room.invite(karl.id, { note: 'call me' });
    const [invitationRoom] = await invitationSeen;
    await invitationRoom.connect();
    assert.equal(await out.response(), true);

    // judy's token names one room: another is refused in calling's words.
    await assert.rejects(judy.room('elsewhere', {}).connect(), /your token does not grant room elsewhere/);
    await assert.rejects(judy.room(undefined, {}).connect(), /your token does not grant a new room/);

    // Forged tokens (HS256 with the public key as its secret; another key
    // pair's) are refused before the upgrade, and so is no token at all.
    const pem = readFileSync(path.join(keyDir, 'public.pem'), 'utf8');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (const forged of [hs256({ sub: 'judy', exp: nowSeconds() + 3600 }, pem), es256({ sub: 'judy', exp: nowSeconds() + 3600 }, other)]) {
      const refusal = await upgradeRefusal(`ws://${server.addr}/ws/calling?access_token=${forged}`);
      assert.deepEqual(refusal, { status: 401, body: "the access token's signature is not valid\n" });
    }
    const anonymous = new rtc.Calling(new rtc.WebSocketChannel(`ws://${server.addr}/ws/calling`), {});
    callings.push(anonymous);
    await assert.rejects(anonymous.connect());

    // The call still carries messages both ways.
    const atKarl = nextEvent(invitationRoom, 'peer_message');
    await room.peers[karl.id].message({ text: 'hello karl' });
    assert.deepEqual((await atKarl)[1], { text: 'hello karl' });
    const atJudy = nextEvent(room, 'peer_message');
    await invitationRoom.peers[judy.id].message({ text: 'hello judy' });
    assert.deepEqual((await atJudy)[1], { text: 'hello judy' });
  });
});
