// The tringtring dialect (seed 001; README "The socket.io dialects") played
// by the real socket.io-client at 1.x, 2.x and 4.x over WebSocket only and
// over HTTP long-polling only, against switchboard at /socket.io/.
//
// As in the original app, the room is created from one page's socket
// (`create-room`, then the browser follows `redirect` to /r/<id>/) and the
// two peers join from the call page's sockets. Every step waits for the
// event it expects; timeouts are failure bounds; "nothing else arrived" is
// shown by order (`barrier` in support/socketio.mjs).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import { startSwitchboard } from './support/servers.mjs';
import { SioPool, VARIANTS, assertErrorPayload, barrier, httpGet, unique } from './support/socketio.mjs';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

/** A room id as the original's landing page draws it (a number below 10^6, as a string), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** `sio` sends `event` and the next event it gets is `error` {message}. */
async function refused(sio, event, payload) {
  sio.emit(event, payload);
  const entry = await sio.next();
  assert.equal(entry.event, 'error', `${sio.label}: '${event}' ${JSON.stringify(payload)} should be refused with 'error', got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assertErrorPayload(entry.args[0], sio);
}

/** `creator` creates room `id` with an ack; both the ack and the `redirect` event carry `expected`. */
async function createRoom(creator, id, expected) {
  const ack = await creator.request('create-room', { room_id: id });
  const redirect = await creator.expect('redirect');
  for (const [what, value] of [['ack', ack.args[0]], ['redirect', redirect]]) {
    if (expected.status) {
      assert.deepEqual(value, { status: true, url_extend: `r/${id}` }, `${creator.label}: create-room ${what}`);
    } else {
      assert.equal(value?.status, false, `${creator.label}: create-room ${what} ${JSON.stringify(value)}`);
      assert.equal(typeof value.error, 'string', `${creator.label}: create-room ${what} has an error string: ${JSON.stringify(value)}`);
      assert.deepEqual(Object.keys(value).sort(), ['error', 'status']);
    }
  }
  assert.equal(ack.args.length, 1, `create-room ack arguments ${JSON.stringify(ack.args)}`);
}

/**
 * `sio` joins room `id` as `name` with an ack; checks the ack lists the
 * peers already there (`present`: [{peer_name, peer_id}]); the list may or
 * may not include the joiner itself (the README does not say).
 */
async function joinRoom(sio, id, name, present) {
  const ack = await sio.request('join', { room_id: id, peer_name: name });
  assert.equal(ack.args.length, 1, `join ack arguments ${JSON.stringify(ack.args)}`);
  const { room_id: ackRoom, peers } = ack.args[0];
  assert.deepEqual(Object.keys(ack.args[0]).sort(), ['peers', 'room_id'], `join ack ${JSON.stringify(ack.args[0])}`);
  assert.equal(ackRoom, id);
  assert.ok(Array.isArray(peers), `join ack peers ${JSON.stringify(peers)}`);
  const self = { peer_name: name, peer_id: sio.id };
  const others = peers.filter((peer) => !(peer.peer_id === sio.id && peer.peer_name === name));
  assert.ok(peers.length - others.length <= 1, `join ack lists the joiner at most once: ${JSON.stringify(peers)}`);
  const byId = (x, y) => (x.peer_id < y.peer_id ? -1 : 1);
  assert.deepEqual([...others].sort(byId), [...present].sort(byId), `join ack peers (besides ${JSON.stringify(self)})`);
}

/** The others in the room learn of `joiner`: `user-arrived` and `user-joined`, in either order. */
async function expectArrival(sio, joiner, name, roomSize) {
  const events = await sio.expectSet(['user-arrived', 'user-joined']);
  const expected = { peer_name: name, peer_id: joiner.id, room_size: roomSize };
  assert.deepEqual(events['user-arrived'], expected, `${sio.label}: user-arrived`);
  assert.deepEqual(events['user-joined'], expected, `${sio.label}: user-joined`);
}

for (const variant of VARIANTS) {
  describe(`tringtring with ${variant.label}`, { skip: variant.skip }, () => {
    let server;
    before(async () => {
      server = await startSwitchboard();
    });
    after(() => server?.stop());

    function pool(t) {
      const p = new SioPool(server.addr, variant);
      t.after(() => p.closeAll());
      return p;
    }

    test('seed 001: create-room, join, offer, answer, ICE, full-room, cut-the-call, disconnect', async (t) => {
      const p = pool(t);
      const id = roomId();

      // The landing page's socket creates the room (the browser then goes
      // to /r/<id>/, tested below).
      const landing = await p.connect('landing page');
      await createRoom(landing, id, { status: true });

      // The two peers join from the call page.
      const alice = await p.connect('alice');
      const bob = await p.connect('bob');
      await joinRoom(alice, id, 'alice', []);
      await joinRoom(bob, id, 'bob', [{ peer_name: 'alice', peer_id: alice.id }]);
      await expectArrival(alice, bob, 'bob', 2);

      // The room is in use now.
      await createRoom(landing, id, { status: false });

      // Offer, answer and ICE, relayed to `to` with `from` set by the server.
      alice.emit('offer', { from: { name: 'mallory', id: 'not-alice' }, to: bob.id, type: 'offer', sdp: SDP_OFFER });
      assert.deepEqual(await bob.expect('offer', { also: [alice] }), { from: { name: 'alice', id: alice.id }, to: bob.id, type: 'offer', sdp: SDP_OFFER });
      bob.emit('answer', { from: { name: 'bob', id: bob.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob] }), { from: { name: 'bob', id: bob.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      // The original client sends ICE with `from: socket.id`.
      for (const [from, to, candidate] of [[alice, bob, CANDIDATE], [bob, alice, { ...CANDIDATE, sdpMLineIndex: 1 }]]) {
        from.emit('ice-candidate', { from: from.id, to: to.id, candidate });
        const got = await to.expect('ice-candidate', { also: [from] });
        assert.equal(got.to, to.id);
        assert.deepEqual(got.candidate, candidate);
        assert.ok(
          got.from === from.id || isDeepStrictEqual(got.from, { name: from === alice ? 'alice' : 'bob', id: from.id }),
          `ice-candidate from ${JSON.stringify(got.from)}`,
        );
        assert.deepEqual(Object.keys(got).sort(), ['candidate', 'from', 'to']);
      }

      // A third peer finds the room full; the two inside hear nothing.
      const carol = await p.connect('carol');
      carol.emit('join', { room_id: id, peer_name: 'carol' });
      await carol.expectEntry('full-room');
      await barrier(carol, 'tringtring');
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');

      // cut-the-call: the sender leaves, even when it names another peer.
      bob.emit('cut-the-call', { room_id: id, peer_name: 'alice', peer_id: alice.id });
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bob.id });
      await barrier(bob, 'tringtring');

      // There is room again: dave joins, then disconnects, which counts as leaving.
      const dave = await p.connect('dave');
      await joinRoom(dave, id, 'dave', [{ peer_name: 'alice', peer_id: alice.id }]);
      await expectArrival(alice, dave, 'dave', 2);
      const daveId = dave.id;
      dave.drop();
      assert.deepEqual(await alice.expect('user-left'), { peer_id: daveId });

      // alice leaves too; the empty room may be created again.
      alice.emit('cut-the-call', { room_id: id, peer_name: 'alice', peer_id: alice.id });
      await barrier(alice, 'tringtring');
      await createRoom(landing, id, { status: true });
    });

    test('the call page: GET /r/<id>/ redirects (302) to / until create-room makes the room, then answers 200', async (t) => {
      const p = pool(t);
      const id = roomId();
      const before = await httpGet(server.addr, `/r/${id}/`);
      assert.equal(before.status, 302, `GET /r/${id}/ before create-room`);
      assert.ok(['/', `http://${server.addr}/`].includes(before.headers.get('location')), `location ${before.headers.get('location')}`);
      const landing = await p.connect('landing page');
      await createRoom(landing, id, { status: true });
      const page = await httpGet(server.addr, `/r/${id}/`);
      assert.equal(page.status, 200, `GET /r/${id}/ after create-room`);
      const landingPage = await httpGet(server.addr, '/');
      assert.equal(landingPage.status, 200, 'GET /');
    });

    test('join and create-room without an ack: redirect, user-arrived and user-joined are events', async (t) => {
      const p = pool(t);
      const id = roomId();
      const landing = await p.connect('landing page');
      landing.emit('create-room', { room_id: id });
      assert.deepEqual(await landing.expect('redirect'), { status: true, url_extend: `r/${id}` });
      const alice = await p.connect('alice');
      const bob = await p.connect('bob');
      alice.emit('join', { room_id: id, peer_name: 'alice' });
      // The first peer hears nothing.
      await barrier(alice, 'tringtring');
      bob.emit('join', { room_id: id, peer_name: 'bob' });
      await expectArrival(alice, bob, 'bob', 2);
      await barrier(bob, 'tringtring');
      // bob disconnects: alice hears that he left.
      const bobId = bob.id;
      bob.close();
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bobId });
      await barrier(alice, 'tringtring');
    });

    test('refused events get error {message} and change nothing', async (t) => {
      const p = pool(t);
      const id = roomId();
      const landing = await p.connect('landing page');
      await createRoom(landing, id, { status: true });
      const alice = await p.connect('alice');
      await joinRoom(alice, id, 'alice', []);

      const stranger = await p.connect('stranger');
      // Malformed payloads.
      await refused(stranger, 'join', { peer_name: 'stranger' });
      await refused(stranger, 'create-room', 'not an object');
      await refused(stranger, 'create-room', {});
      // Relays from a peer of another room reach nobody.
      // (a join names a room that was never created: it is made, as the
      // original server's pages expect; the original made rooms over HTTP.)
      const elsewhere = roomId();
      await joinRoom(stranger, elsewhere, 'stranger', []);
      stranger.emit('offer', { from: { name: 'stranger', id: stranger.id }, to: alice.id, type: 'offer', sdp: SDP_OFFER });
      stranger.emit('ice-candidate', { from: stranger.id, to: alice.id, candidate: CANDIDATE });
      await barrier(alice, 'tringtring');

      // cloudkibo's events on a tringtring socket.
      await refused(alice, 'join global chatroom', { room: 'globalchatroom', user: { phone: unique('+1555'), _id: 'x' } });
      await refused(alice, 'callthisperson', { room: 'globalchatroom', callerphone: 'a', calleephone: 'b' });
      await refused(alice, 'message', { to: 'b', msg: { type: 'call', status: 'callaccepted' } });
      await refused(alice, 'init', { room: unique('room'), username: 'alice' });

      // alice is still in the room: bob joins and she hears of it.
      const bob = await p.connect('bob');
      await joinRoom(bob, id, 'bob', [{ peer_name: 'alice', peer_id: alice.id }]);
      await expectArrival(alice, bob, 'bob', 2);
    });
  });
}
