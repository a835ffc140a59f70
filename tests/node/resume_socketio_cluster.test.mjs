// Session resume for the socket.io dialects across the nodes of a cluster
// (README "Resume", docs/cluster.md "Resume"): two real switchboard nodes
// A and B on one real redis-server, and the real socket.io-client 4.x and
// 2.x over WebSocket.
//
// On a cluster a token is `<node-id>.<secret>`, naming the node that holds
// the session. A client may come back to any node: the node it reconnects
// to pipes the socket to the session's node, which runs the session as for
// a socket of its own; nothing else differs for the client. Here the
// resumable party's session is always on A, its transport is dropped (the
// TCP socket destroyed under the client, so no socket.io disconnect packet)
// and it resumes on B, with the other party on B (the call crossing nodes)
// or on A.
//
// Every test starts its own Redis and nodes, so the /metrics figures it
// reads are its own. Every step waits for the event it expects (or polls
// /metrics, one read per turn of the event loop); timeouts are failure
// bounds only. "Nothing else arrived" is shown by order: each socket's
// events are taken strictly in order, and `barrier` (support/socketio.mjs)
// sends an event answered with `error`, which must be the next event.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startCluster, startRedis } from './support/servers.mjs';
import { CLIENTS, barrier, callMsg, unique } from './support/socketio.mjs';
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
  onNode,
  relayMessage,
  resumeFigures,
  resumeSockets,
  roomId,
  waitForMetric,
} from './support/resume_socketio.mjs';

/** The nodes' ids, as their tokens begin. */
const NODE_IDS = { A: 'resume-a', B: 'resume-b' };

/**
 * One test's Redis, nodes A and B (each with `extraArgs`), and sockets, all
 * stopped when the test ends. The socket methods of `resumeSockets` take a
 * node (`env.A`, `env.B`) where they take an address.
 */
async function setUpCluster(t, client, extraArgs = []) {
  const redis = await startRedis();
  const sockets = [];
  let nodes = [];
  t.after(async () => {
    for (const sio of sockets) sio.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  });
  nodes = await startCluster(redis, [NODE_IDS.A, NODE_IDS.B], extraArgs);
  const [A, B] = nodes;
  A.label = 'A';
  B.label = 'B';
  A.id = NODE_IDS.A;
  B.id = NODE_IDS.B;
  const open = resumeSockets(client, sockets);
  return {
    A,
    B,
    /** Node 'A' or 'B'. */
    node: (name) => ({ A, B })[name],
    plain: (node, label) => open.plain(node.addr, label),
    /** A resumable socket whose token names `node`. */
    async resumable(node, label) {
      const opened = await open.resumable(node.addr, label);
      assertTokenOf(opened.token, node, opened.sio);
      return opened;
    },
    /** A resume through `node` of a session held on `holder`; the new token names `holder` too. */
    async resume(node, label, token, holder) {
      const resumed = await open.resume(node.addr, label, token);
      assertTokenOf(resumed.token, holder, resumed.sio);
      return resumed;
    },
    refused: (node, label, token) => open.refused(node.addr, label, token),
  };
}

/** The key of `node`'s switchboard_sessions_held in its /metrics. */
function held(node) {
  return onNode(HELD, node.id);
}

/** `node`'s resume figures (`resumeFigures`), to compare with `figures()`. */
function figuresOf(node) {
  return resumeFigures(node.addr, node.id);
}

/** `token` is `<node-id>.<secret>` of `node`, the secret 256 bits in base64url (43 characters). */
function assertTokenOf(token, node, sio) {
  const prefix = `${node.id}.`;
  assert.ok(token.startsWith(prefix), `${sio.label}: a token of node ${node.label} (${prefix}…): ${JSON.stringify(token)}`);
  assert.match(token.slice(prefix.length), /^[A-Za-z0-9_-]{43}$/, `${sio.label}: the token's secret`);
}

// ---------------------------------------------------------------------------
// cloudkibo.

function cloudkiboClusterTests(client) {
  const label = `${CLIENTS[client].name} over websocket`;
  describe(`cloudkibo resume across nodes with ${label}`, () => {
    /** A call between a caller a on node `callerOn` (plain) and a callee b on A (opted in). */
    async function call(t, { callerOn = 'B', extraArgs } = {}) {
      const env = await setUpCluster(t, client, extraArgs);
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await env.plain(env.node(callerOn), `caller on ${callerOn}`);
      const { sio: b, token } = await env.resumable(env.A, 'callee on A');
      const { idA, idB } = await cloudkiboCall(a, pa, b, pb);
      return { ...env, a, b, pa, pb, idA, idB, token };
    }

    /**
     * The call of `call`, b's transport dropped and b resumed on B while the
     * caller sent three ICE candidates and a message: they come to B in
     * order, once, and the caller heard nothing. Returns the call with the
     * resumed socket `b2` and its token `token2`.
     */
    async function resumedOnB(t, opts) {
      const env = await call(t, opts);
      const { A, B, a, b, pa, pb, idA, idB, token } = env;
      await dropTransport(b);
      await waitForMetric(A.addr, held(A), 1);

      const queued = [0, 1, 2].map((i) => ['msg', iceMsg(idB, idA, i)]);
      for (const [, { to, type, ice }] of queued) a.emit('msg', { to, by: idA, type, ice });
      const video = { callerphone: pa, calleephone: pb, type: 'video', video: false };
      a.emit('message', { to: pb, msg: video });
      queued.push(['message', video]);
      // The caller got nothing (no callended, no peer.disconnected): the next
      // thing it sees answers its own request.
      await coreRoundTripCloudkibo(a, pa);
      assert.equal(await metric(A.addr, held(A)), 1, 'still held on A after the four events');

      const { sio: b2, token: token2 } = await env.resume(B, 'callee, resumed on B', token, A);
      await expectInOrder(b2, queued, { also: [a] });
      await barrier(b2, 'cloudkibo'); // exactly once: nothing after them
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }), 'node A resumed its session');
      assert.deepEqual(await figuresOf(B), figures(), 'node B holds nothing and resumed nothing of its own');
      return { ...env, b2, token2 };
    }

    /** Relays both ways through `b2`, and a callthisperson whose ack the server answers through it. */
    async function relaysWork({ a, b2, pa, pb, idA, idB }) {
      a.emit('msg', iceMsg(idB, idA, 7));
      assert.deepEqual(await b2.expect('msg', { also: [a] }), iceMsg(idB, idA, 7));
      b2.emit('msg', { to: idA, by: idB, type: 'ice', ice: ICE });
      assert.deepEqual(await a.expect('msg', { also: [b2] }), iceMsg(idA, idB, 0));
      await relayMessage(b2, a, pa, { callerphone: pa, calleephone: pb, type: 'video', video: true });
      await relayMessage(a, b2, pb, { callerphone: pa, calleephone: pb, type: 'video', video: true });
      // callthisperson is answered by its ack first, whatever follows (seed
      // 000); here a callerphone not b's own, refused after the ack.
      const [stranger, other] = [unique('+1555s'), unique('+1555o')];
      const ack = await b2.request('callthisperson', { room: 'globalchatroom', callerphone: stranger, calleephone: other });
      assert.deepEqual(ack.args, [{ status: 'ok', calleephone: other }], `${b2.label}: the ack of callthisperson`);
      const refusal = await b2.expectEntry('error');
      assert.ok(ack.seq < refusal.seq, `${b2.label}: the ack came before the error: ${b2.describeReceived()}`);
      assert.match(refusal.args[0].message, /is not this socket's phone/);
      await barrier(b2, 'cloudkibo');
      await barrier(a, 'cloudkibo');
    }

    for (const callerOn of ['B', 'A']) {
      test(`mid-call drop on A, resume on B (caller on ${callerOn}): queued ICE and message come in order once, the caller hears nothing, then relays, an ack and hang-up work`, async (t) => {
        const env = await resumedOnB(t, { callerOn });
        const { A, B, a, b2, pa, pb, idB } = env;
        await relaysWork(env);

        // Hang-up from the resumed side reaches the caller as ever.
        b2.emit('message', { to: pa, msg: callMsg(pa, pb, 'callended') });
        assert.deepEqual(await a.expect('message', { also: [b2] }), { ...callMsg(pa, pb, 'callended'), reason: 'hangup' });
        // And a clean close leaves the media room: the caller sees b's old id go.
        b2.socket.disconnect();
        assert.deepEqual(await a.expect('peer.disconnected'), { id: idB });
        await barrier(a, 'cloudkibo');
        assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }));
        assert.deepEqual(await figuresOf(B), figures());
      });
    }

    test('resumed on B, dropped again and resumed on A: the rotated token works, the used ones are refused (4004) on either node', async (t) => {
      const env = await resumedOnB(t);
      const { A, B, a, b2, pa, idA, idB, token, token2 } = env;
      // The drop on B: A holds the session again, and queues for it.
      await dropTransport(b2);
      await waitForMetric(A.addr, held(A), 1);
      a.emit('msg', iceMsg(idB, idA, 4));
      await coreRoundTripCloudkibo(a, pa);

      const { sio: b3 } = await env.resume(A, 'callee, resumed again on A', token2, A);
      assert.deepEqual(await b3.expect('msg', { also: [a] }), iceMsg(idB, idA, 4));
      await barrier(b3, 'cloudkibo');
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 2 }));

      for (const [node, used, which] of [[A, token, 'first'], [B, token, 'first'], [A, token2, 'second'], [B, token2, 'second']]) {
        await env.refused(node, `the ${which} token, on ${node.label}`, used);
      }
      // The refusals touched nobody.
      await barrier(b3, 'cloudkibo');
      await barrier(a, 'cloudkibo');
      await relaysWork({ ...env, b2: b3 });
      assert.deepEqual(await figuresOf(A), figures({ resumes: 2 }));
      assert.deepEqual(await figuresOf(B), figures());
    });

    test('the window (1 s) passes after a resume on B and a second drop there: the caller is told, the token is refused on B and A', async (t) => {
      const env = await call(t, { extraArgs: SHORT_WINDOW });
      const { A, B, a, b, pa, pb, idB, token } = env;
      await dropTransport(b);
      await waitForMetric(A.addr, held(A), 1);
      const { sio: b2, token: token2 } = await env.resume(B, 'callee, resumed on B', token, A);
      await barrier(b2, 'cloudkibo');
      await dropTransport(b2);
      await waitForMetric(A.addr, held(A), 1);
      await expectCalleeGone(a, pa, pb, idB, { timeout: WINDOW_TIMEOUT_MS });
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1, window: 1 }));
      await env.refused(B, 'callee, too late, on B', token2);
      await env.refused(A, 'callee, too late, on A', token2);
      await barrier(a, 'cloudkibo');
    });

    test('the window (1 s) passes with no resume: the caller is told, the token of A is refused on B', async (t) => {
      const env = await call(t, { extraArgs: SHORT_WINDOW });
      const { A, B, a, b, pa, pb, idB, token } = env;
      await dropTransport(b);
      await waitForMetric(A.addr, held(A), 1);
      await expectCalleeGone(a, pa, pb, idB, { timeout: WINDOW_TIMEOUT_MS });
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await figuresOf(A), figures({ window: 1 }));
      await env.refused(B, 'callee, too late, on B', token);
      await barrier(a, 'cloudkibo');
    });

    test('a clean disconnect() of the socket resumed on B ends the session at once: the caller is told, A holds nothing', async (t) => {
      const env = await resumedOnB(t);
      const { A, B, a, b2, pa, pb, idB, token2 } = env;
      b2.socket.disconnect(); // the socket.io disconnect packet, to B
      // With the default 30 s window, only an immediate end arrives in time.
      await expectCalleeGone(a, pa, pb, idB);
      await barrier(a, 'cloudkibo');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }));
      assert.deepEqual(await figuresOf(B), figures());
      await env.refused(B, 'callee, after a clean close, on B', token2);
      await env.refused(A, 'callee, after a clean close, on A', token2);
    });
  });
}

// ---------------------------------------------------------------------------
// tringtring.

function tringtringClusterTests(client) {
  const label = `${CLIENTS[client].name} over websocket`;
  describe(`tringtring resume across nodes with ${label}`, () => {
    /**
     * A room of two, created from a landing page on alice's node `aliceOn`
     * (so the room lives there): alice (plain) and bob on A (opted in), who
     * exchanged an offer and an answer.
     */
    async function room(t, { aliceOn = 'B', extraArgs } = {}) {
      const env = await setUpCluster(t, client, extraArgs);
      const home = env.node(aliceOn);
      const id = roomId();
      const landing = await env.plain(home, `landing page on ${aliceOn}`);
      const created = await landing.request('create-room', { room_id: id });
      assert.deepEqual(created.args, [{ status: true, url_extend: `r/${id}` }]);
      assert.deepEqual(await landing.expect('redirect'), { status: true, url_extend: `r/${id}` });
      const alice = await env.plain(home, `alice on ${aliceOn}`);
      const { sio: bob, token } = await env.resumable(env.A, 'bob on A');
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

    /**
     * The room of `room`, bob's transport dropped and bob resumed on B while
     * alice sent three candidates and a new offer: they come to B in order,
     * once, and alice heard nothing. Returns the room with `bob2` and
     * `token2`.
     */
    async function resumedOnB(t, opts) {
      const env = await room(t, opts);
      const { A, B, id, alice, bob, bobId, token } = env;
      await dropTransport(bob);
      await waitForMetric(A.addr, held(A), 1);

      for (const i of [0, 1, 2]) aliceIce(alice, bobId, i);
      alice.emit('offer', { from: { name: 'alice', id: alice.id }, to: bobId, type: 'offer', sdp: SDP_OFFER });
      // alice got no user-left: the next thing she sees answers her own request.
      await coreRoundTripTringtring(alice, id);
      assert.equal(await metric(A.addr, held(A)), 1, 'still held on A after the four events');

      const { sio: bob2, token: token2 } = await env.resume(B, 'bob, resumed on B', token, A);
      for (const i of [0, 1, 2]) await expectAliceIce(bob2, alice, bobId, i);
      assert.deepEqual(await bob2.expect('offer', { also: [alice] }), { from: { name: 'alice', id: alice.id }, to: bobId, type: 'offer', sdp: SDP_OFFER });
      await barrier(bob2, 'tringtring'); // exactly once: nothing after them
      await barrier(alice, 'tringtring');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }), 'node A resumed its session');
      assert.deepEqual(await figuresOf(B), figures(), 'node B holds nothing and resumed nothing of its own');
      return { ...env, bob2, token2 };
    }

    /**
     * Relays both ways through `bob2` under bob's old peer id, and a
     * create-room whose ack the server answers through it.
     */
    async function relaysWork({ id, alice, bob2, bobId }) {
      bob2.emit('answer', { from: { name: 'bob', id: bob2.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob2] }), { from: { name: 'bob', id: bobId }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      bob2.emit('ice-candidate', { from: bobId, to: alice.id, candidate: ICE });
      assertIce(await alice.expect('ice-candidate', { also: [bob2] }), { fromId: bobId, fromName: 'bob', to: alice.id, candidate: ICE }, `${alice.label}: bob's candidate`);
      aliceIce(alice, bobId, 5);
      await expectAliceIce(bob2, alice, bobId, 5);
      // create-room of the room bob is in: the ack {status: false}, then its redirect.
      await coreRoundTripTringtring(bob2, id);
      await barrier(bob2, 'tringtring');
      await barrier(alice, 'tringtring');
    }

    for (const aliceOn of ['B', 'A']) {
      test(`mid-call drop on A, resume on B (alice and the room on ${aliceOn}): queued ICE and offer come in order once, alice hears nothing, then relays, an ack and leaving work`, async (t) => {
        const env = await resumedOnB(t, { aliceOn });
        const { A, B, id, alice, bob2, bobId } = env;
        await relaysWork(env);

        // bob leaves: alice hears it as ever, under the old id.
        bob2.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bobId });
        assert.deepEqual(await alice.expect('user-left', { also: [bob2] }), { peer_id: bobId });
        await barrier(alice, 'tringtring');
        await barrier(bob2, 'tringtring');
        assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }));
        assert.deepEqual(await figuresOf(B), figures());
      });
    }

    test('resumed on B, dropped again and resumed on A: the rotated token works, the used ones are refused (4004) on either node', async (t) => {
      const env = await resumedOnB(t);
      const { A, B, alice, bob2, bobId, token, token2 } = env;
      await dropTransport(bob2);
      await waitForMetric(A.addr, held(A), 1);
      aliceIce(alice, bobId, 4);
      await barrier(alice, 'tringtring');

      const { sio: bob3 } = await env.resume(A, 'bob, resumed again on A', token2, A);
      await expectAliceIce(bob3, alice, bobId, 4);
      await barrier(bob3, 'tringtring');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 2 }));

      for (const [node, used, which] of [[A, token, 'first'], [B, token, 'first'], [A, token2, 'second'], [B, token2, 'second']]) {
        await env.refused(node, `the ${which} token, on ${node.label}`, used);
      }
      await barrier(bob3, 'tringtring');
      await barrier(alice, 'tringtring');
      await relaysWork({ ...env, bob2: bob3 });
      assert.deepEqual(await figuresOf(A), figures({ resumes: 2 }));
      assert.deepEqual(await figuresOf(B), figures());
    });

    test('the window (1 s) passes after a resume on B and a second drop there: alice gets user-left, the token is refused on B and A', async (t) => {
      const env = await room(t, { extraArgs: SHORT_WINDOW });
      const { A, B, alice, bob, bobId, token } = env;
      await dropTransport(bob);
      await waitForMetric(A.addr, held(A), 1);
      const { sio: bob2, token: token2 } = await env.resume(B, 'bob, resumed on B', token, A);
      await barrier(bob2, 'tringtring');
      await dropTransport(bob2);
      await waitForMetric(A.addr, held(A), 1);
      assert.deepEqual(await alice.expect('user-left', { timeout: WINDOW_TIMEOUT_MS }), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1, window: 1 }));
      await env.refused(B, 'bob, too late, on B', token2);
      await env.refused(A, 'bob, too late, on A', token2);
      await barrier(alice, 'tringtring');
    });

    test('the window (1 s) passes with no resume: alice gets user-left, the token of A is refused on B', async (t) => {
      const env = await room(t, { extraArgs: SHORT_WINDOW });
      const { A, B, alice, bob, bobId, token } = env;
      await dropTransport(bob);
      await waitForMetric(A.addr, held(A), 1);
      assert.deepEqual(await alice.expect('user-left', { timeout: WINDOW_TIMEOUT_MS }), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await figuresOf(A), figures({ window: 1 }));
      await env.refused(B, 'bob, too late, on B', token);
      await barrier(alice, 'tringtring');
    });

    test('a clean disconnect() of the socket resumed on B ends the session at once: alice gets user-left, A holds nothing', async (t) => {
      const env = await resumedOnB(t);
      const { A, B, alice, bob2, bobId, token2 } = env;
      bob2.socket.disconnect(); // the socket.io disconnect packet, to B
      // With the default 30 s window, only an immediate end arrives in time.
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bobId });
      await barrier(alice, 'tringtring');
      assert.deepEqual(await figuresOf(A), figures({ resumes: 1 }));
      assert.deepEqual(await figuresOf(B), figures());
      await env.refused(B, 'bob, after a clean close, on B', token2);
      await env.refused(A, 'bob, after a clean close, on A', token2);
    });
  });
}

for (const client of ['v4', 'v2']) {
  cloudkiboClusterTests(client);
  tringtringClusterTests(client);
}
