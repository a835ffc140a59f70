// The real rtc-lib 0.5.7 client (its `Calling` signaling and `CallingRoom`
// rooms) against the calling dialect, on the original calling-signaling
// server (which proves the test right) and on switchboard.
//
// Browser globals: rtc-lib imports fine in Node. It uses the global
// `WebSocket` (given here as ws's), and its `Room` creates an
// `RTCPeerConnection` for every peer that appears in a room (with
// `auto_connect: false`, as `CallingRoom` sets, nothing else of it is used
// before `connect()`). Signaling does not need WebRTC, so a minimal stub
// stands in for RTCPeerConnection; no media or ICE is exercised here.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import WebSocket from 'ws';

import { SERVERS, startCluster, startRedis } from './support/servers.mjs';

const require = createRequire(import.meta.url);

globalThis.WebSocket = WebSocket;

/** Stub: only what rtc-lib's PeerConnection constructor and close() touch. */
class StubRTCPeerConnection {
  constructor(config) {
    this.config = config;
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
  }
  close() {
    this.iceConnectionState = 'closed';
  }
}
globalThis.RTCPeerConnection ??= StubRTCPeerConnection;

const rtc = require('rtc-lib');

const STEP_TIMEOUT_MS = 5_000;

/** Resolves with the arguments of the next `event` of `emitter`, or rejects after a timeout. */
function nextEvent(emitter, event, { timeout = STEP_TIMEOUT_MS, filter = () => true } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`no '${event}' event within ${timeout} ms`));
    }, timeout);
    const listener = (...args) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.removeListener(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}

/** A connected rtc-lib `Calling` on `url`. */
async function callingClient(url) {
  const calling = new rtc.Calling(new rtc.WebSocketChannel(url), {});
  await calling.connect();
  return calling;
}

/** rtc-lib's close() leaves its inactivity timer running; stop it so the process can exit. */
async function closeCalling(calling) {
  if (calling.state !== 'closed' && calling.channel.socket) await calling.close();
  clearTimeout(calling.ping_timeout);
  clearTimeout(calling.timeout_timeout);
}

/**
 * Two switchboard nodes of a cluster on one redis-server (docs/cluster.md):
 * the first user of each test on node A (`url`), the other on node B
 * (`peerUrl`).
 */
async function startTwoNodes() {
  const redis = await startRedis();
  const [a, b] = await startCluster(redis, ['rtc-a', 'rtc-b']);
  return {
    url: a.url,
    peerUrl: b.url,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
    },
  };
}

const TARGETS = { ...SERVERS, 'a switchboard cluster, the two users on two nodes': startTwoNodes };

for (const [serverName, start] of Object.entries(TARGETS)) {
  describe(`rtc-lib 0.5.7 against ${serverName}`, () => {
    let server;
    const callings = [];
    const quietLog = console.log;

    before(async () => {
      // rtc-lib logs chatter ("removing", "removed …") with console.log.
      console.log = () => {};
      server = await start();
    });

    after(async () => {
      await Promise.all(callings.map(closeCalling));
      await server?.stop();
      console.log = quietLog;
    });

    test('two users meet in a namespace, call through an invitation and message each other', async () => {
      const ns = 'rtc-lib-namespace';

      // Connect: `hello` gives each its id.
      const alice = await callingClient(server.url);
      callings.push(alice);
      const bob = await callingClient(server.peerUrl ?? server.url);
      callings.push(bob);
      assert.equal(alice.state, 'connected');
      assert.equal(typeof alice.id, 'string');
      assert.equal(typeof bob.id, 'string');
      assert.notEqual(alice.id, bob.id);
      assert.equal(typeof (await alice.hello_p), 'string', 'hello carries a server name');

      // Alice registers and subscribes; then Bob does, and each sees the other.
      await alice.setStatus({ name: 'alice' });
      await alice.register(ns);
      const aliceNs = await alice.subscribe(ns);
      assert.deepEqual(Object.keys(aliceNs.users), [alice.id], 'a subscriber sees itself when registered');
      assert.deepEqual(aliceNs.users[alice.id].status, { name: 'alice' });

      const bobRegistered = nextEvent(aliceNs, 'user_registered', { filter: (u) => u.id === bob.id });
      await bob.setStatus({ name: 'bob' });
      await bob.register(ns);
      const [bobAsSeenByAlice] = await bobRegistered;
      assert.deepEqual(bobAsSeenByAlice.status, { name: 'bob' });

      const bobNs = await bob.subscribe(ns);
      assert.deepEqual(Object.keys(bobNs.users).sort(), [alice.id, bob.id].sort());
      assert.deepEqual(bobNs.users[alice.id].status, { name: 'alice' });
      assert.deepEqual(bobNs.users[bob.id].status, { name: 'bob' });

      // Status changes reach the other subscriber (ns_user_update).
      let seen = nextEvent(bobNs, 'user_status_changed', { filter: (u) => u.id === alice.id });
      await alice.setStatus({ name: 'alice', mood: 'chatty' });
      let [user, status] = await seen;
      assert.deepEqual(status, { name: 'alice', mood: 'chatty' });
      assert.deepEqual(user.status, { name: 'alice', mood: 'chatty' });

      seen = nextEvent(aliceNs, 'user_status_changed', { filter: (u) => u.id === bob.id });
      await bob.setStatus({ name: 'bob', mood: 'sleepy' });
      [user, status] = await seen;
      assert.deepEqual(status, { name: 'bob', mood: 'sleepy' });
      assert.deepEqual(aliceNs.users[bob.id].status, { name: 'bob', mood: 'sleepy' });

      // Alice opens a room with a server-drawn id (room_join without room)
      // and registers it in the namespace: Bob's namespace learns of it.
      const aliceRoom = alice.room(undefined, {});
      await aliceRoom.connect();
      const roomId = aliceRoom.signaling.id;
      assert.equal(typeof roomId, 'string');
      assert.ok(roomId.length > 0);
      assert.deepEqual(aliceRoom.peers, {});

      const roomRegistered = nextEvent(bobNs, 'room_registered', { filter: (r) => r.id === roomId });
      await aliceRoom.register(ns);
      const [bobNsRoom] = await roomRegistered;
      assert.deepEqual(Object.keys(bobNsRoom.peers), [alice.id]);
      assert.equal(bobNsRoom.peers[alice.id].pending, false);
      assert.deepEqual(bobNsRoom.peers[alice.id].status, { name: 'alice', mood: 'chatty' });

      // Alice invites Bob: Bob gets the invitation, Alice's room shows Bob
      // as pending, the namespace shows a pending peer.
      const invitationSeen = nextEvent(bob, 'invitation');
      const pendingPeerSeen = nextEvent(aliceRoom, 'peer_joined');
      const nsPeerSeen = nextEvent(bobNs, 'room_peer_joined', { filter: (r, p) => r.id === roomId && p.id === bob.id });
      const outInvitation = await aliceRoom.invite(bob.id, { reason: 'test call' });
      assert.equal(typeof outInvitation.handle, 'number');
      assert.equal(outInvitation.pending, true);

      const [invitationRoom] = await invitationSeen;
      assert.ok(invitationRoom instanceof rtc.CallingInvitationRoom);
      assert.equal(invitationRoom.sender_id, alice.id);
      assert.deepEqual(invitationRoom.data, { reason: 'test call' });
      assert.equal(invitationRoom.signaling.id, roomId);
      assert.deepEqual(Object.keys(invitationRoom.peers), [alice.id]);
      assert.equal(invitationRoom.sender(), invitationRoom.peers[alice.id]);
      assert.deepEqual(invitationRoom.signaling.peers[alice.id].status, { name: 'alice', mood: 'chatty' });
      assert.equal(invitationRoom.signaling.peers[alice.id].pending, false);

      const [bobPeerAtAlice] = await pendingPeerSeen;
      assert.equal(bobPeerAtAlice.signaling.id, bob.id);
      assert.equal(bobPeerAtAlice.signaling.pending, true);
      const [, nsPendingPeer] = await nsPeerSeen;
      assert.equal(nsPendingPeer.pending, true);

      // Bob accepts (invite_accept with his room status): Alice's invitation
      // resolves true, her room peer is accepted, the namespace peer too.
      const nsAccepted = nsPendingPeer.accepted();
      invitationRoom.local.status('camera', 'on');
      await invitationRoom.connect();
      assert.equal(invitationRoom.state, 'connected');
      assert.equal(await outInvitation.response(), true);
      await bobPeerAtAlice.signaling.accepted();
      assert.equal(bobPeerAtAlice.signaling.pending, false);
      await nsAccepted;

      // The room status Alice sees for Bob: his global status merged with
      // his room status.
      if (bobPeerAtAlice.signaling.status.camera === undefined) {
        await nextEvent(bobPeerAtAlice, 'status_changed');
      }
      assert.deepEqual(bobPeerAtAlice.signaling.status, { name: 'bob', mood: 'sleepy', camera: 'on' });

      // Messages both ways through the server (room_peer_to / room_peer_from).
      const atBob = nextEvent(invitationRoom, 'peer_message');
      await aliceRoom.peers[bob.id].message({ text: 'hello bob' });
      const [fromAlice, aliceData] = await atBob;
      assert.equal(fromAlice, invitationRoom.peers[alice.id]);
      assert.deepEqual(aliceData, { text: 'hello bob' });

      const atAlice = nextEvent(aliceRoom, 'peer_message');
      await invitationRoom.peers[alice.id].message({ text: 'hello alice', n: 2 });
      const [fromBob, bobData] = await atAlice;
      assert.equal(fromBob, aliceRoom.peers[bob.id]);
      assert.deepEqual(bobData, { text: 'hello alice', n: 2 });

      // Custom signaling events reach the peer under their own name.
      const customAtAlice = nextEvent(aliceRoom.peers[bob.id].signaling, 'ice_candidate_test');
      await invitationRoom.peers[alice.id].signaling.send('ice_candidate_test', { candidate: 'c1' });
      assert.deepEqual((await customAtAlice)[0], { candidate: 'c1' });

      // Bob leaves the room (room_leave): Alice is told (room_peer_rm).
      const bobLeft = nextEvent(aliceRoom, 'peer_left');
      const bobClosed = nextEvent(invitationRoom.signaling, 'closed');
      await invitationRoom.leave();
      await bobClosed;
      const [leftPeer] = await bobLeft;
      assert.equal(leftPeer.signaling.id, bob.id);
      assert.deepEqual(Object.keys(aliceRoom.peers), []);

      // Bob disconnects: Alice's namespace hears that he is gone (ns_user_rm).
      const bobGone = nextEvent(aliceNs, 'user_left', { filter: (u) => u.id === bob.id });
      await closeCalling(bob);
      await bobGone;
      assert.deepEqual(Object.keys(aliceNs.users), [alice.id]);
    });

    test('a denied invitation resolves false and the pending peer leaves', async () => {
      const alice = await callingClient(server.url);
      callings.push(alice);
      const carol = await callingClient(server.peerUrl ?? server.url);
      callings.push(carol);

      const room = alice.room('rtc-lib-named-room', {});
      await room.connect();
      assert.equal(room.signaling.id, 'rtc-lib-named-room');

      const invitationSeen = nextEvent(carol, 'invitation');
      const joined = nextEvent(room, 'peer_joined');
      const out = await room.invite(carol.id);
      const [invitationRoom] = await invitationSeen;
      const [pendingPeer] = await joined;
      assert.deepEqual(invitationRoom.data, {});
      assert.equal(pendingPeer.signaling.pending, true);
      // rtc-lib rejects a pending peer's accepted() when it leaves; observe it
      // (an unobserved rejection would fail the test process).
      const acceptedOutcome = pendingPeer.signaling.accepted().then(() => 'accepted', (reason) => reason);

      const left = nextEvent(room, 'peer_left');
      await invitationRoom.deny();
      assert.equal(await out.response(), false);
      const [leftPeer] = await left;
      assert.equal(leftPeer, pendingPeer);
      assert.equal(await acceptedOutcome, 'User left');
    });

    test('a cancelled invitation reaches the invitee', async () => {
      const alice = await callingClient(server.url);
      callings.push(alice);
      const dave = await callingClient(server.peerUrl ?? server.url);
      callings.push(dave);

      const room = alice.room(undefined, {});
      await room.connect();
      const invitationSeen = nextEvent(dave, 'invitation');
      const joined = nextEvent(room, 'peer_joined');
      const out = await room.invite(dave.id, { x: 1 });
      const [invitationRoom] = await invitationSeen;
      assert.equal(invitationRoom.signaling.id, room.signaling.id);
      assert.deepEqual(invitationRoom.data, { x: 1 });
      const [pendingPeer] = await joined;
      const acceptedOutcome = pendingPeer.signaling.accepted().then(() => 'accepted', (reason) => reason);

      const cancelled = nextEvent(invitationRoom, 'cancelled');
      const handled = nextEvent(invitationRoom, 'handled');
      const left = nextEvent(room, 'peer_left');
      const outcome = out.response().then(() => 'resolved', (err) => err.message);
      await out.cancel();
      await cancelled;
      assert.deepEqual(await handled, [false]);
      assert.equal(await outcome, 'Invitation cancelled');
      // The cancelled invitee is removed from the room (room_peer_rm).
      assert.equal((await left)[0], pendingPeer);
      assert.equal(await acceptedOutcome, 'User left');
    });
  });
}
