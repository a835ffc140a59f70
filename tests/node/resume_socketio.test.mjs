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

import { startSwitchboard } from './support/servers.mjs';
import { CLIENTS, barrier, callMsg, unique, waitFor } from './support/socketio.mjs';
import {
  HELD,
  ICE,
  SDP_ANSWER,
  SDP_OFFER,
  SHORT_WINDOW,
  WINDOW_TIMEOUT_MS,
  aliceIce,
  assertIce,
  cloudkiboCall,
  coreRoundTripCloudkibo,
  coreRoundTripTringtring,
  dropTransport,
  expectAliceIce,
  expectArrival,
  expectCalleeGone,
  expectInOrder,
  figures,
  iceMsg,
  joinRoom,
  metric,
  relayMessage,
  resumeFigures,
  resumeSockets,
  roomId,
  waitForMetric,
} from './support/resume_socketio.mjs';

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
  const open = resumeSockets(client, sockets);
  const { addr } = server;
  return {
    server,
    addr,
    /** A socket that does not ask for resume. */
    plain: (label) => open.plain(addr, label),
    /** A socket opened with `resume=1`: `{sio, token}` (see `resumeSockets`). */
    resumable: (label) => open.resumable(addr, label),
    /** A socket with `resume=token`, greeted as resumed: `{sio, token: NEW}`. */
    resume: (label, token) => open.resume(addr, label, token),
    /** A socket with `resume=token`, refused with 4004 and disconnected. */
    refused: (label, token) => open.refused(addr, label, token),
  };
}

// ---------------------------------------------------------------------------
// cloudkibo.

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
