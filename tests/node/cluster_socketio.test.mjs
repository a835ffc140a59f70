// The socket.io dialects with their parties on different nodes of a
// cluster (docs/cluster.md): three real switchboard processes sharing a
// real redis-server, and the real socket.io-client. Each client talks to
// one node, as sticky sessions give (README "Several nodes").

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startCluster, startRedis } from './support/servers.mjs';
import { SioPool, VARIANTS, barrier, callMsg, callThisPerson, httpGet, joinGlobalChatroom, unique, waitFor } from './support/socketio.mjs';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ICE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

// One WebSocket and one long-polling variant of the newest and oldest clients.
const CHOSEN = VARIANTS.filter((v) => (v.client === 'v4' && v.transport === 'websocket') || (v.client === 'v1' && v.transport === 'polling'));

describe('socket.io dialects across the nodes of a cluster', () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await startCluster(redis, ['sio-a', 'sio-b', 'sio-c']);
  });
  after(async () => {
    await Promise.all((nodes ?? []).map((node) => node.stop()));
    await redis?.stop();
  });

  for (const variant of CHOSEN) {
    test(`cloudkibo with ${variant.label}: callthisperson, message, and the init/msg media room across two nodes`, async (t) => {
      const [onA, onB] = [new SioPool(nodes[0].addr, variant), new SioPool(nodes[1].addr, variant)];
      t.after(() => { onA.closeAll(); onB.closeAll(); });
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await onA.connect('caller on node A');
      const b = await onB.connect('callee on node B');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);

      await callThisPerson(a, pa, pb);
      assert.deepEqual(await b.expect('areyoufreeforcall'), { callerphone: pa, calleephone: pb, sendersocket: a.id });
      for (const msg of [callMsg(pa, pb, 'calleeisavailable'), callMsg(pa, pb, 'callaccepted')]) {
        b.emit('message', { to: pa, msg });
        assert.deepEqual(await a.expect('message', { also: [b] }), msg);
      }
      const room = unique('room');
      const named = { callerphone: pa, calleephone: pb, type: 'room_name', room_name: room };
      a.emit('message', { to: pb, msg: named });
      assert.deepEqual(await b.expect('message', { also: [a] }), named);

      // The media room lives on the caller's node; the callee joins it from B.
      const [, idA] = (await a.request('init', { room, username: pa })).args;
      const [roomB, idB, lockedB] = (await b.request('init', { room, username: pb })).args;
      assert.deepEqual([roomB, lockedB], [room, false]);
      assert.notEqual(idB, idA);
      assert.deepEqual(await a.expect('peer.connected'), { id: idB, username: pb });
      a.emit('msg', { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
      assert.deepEqual(await b.expect('msg', { also: [a] }), { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
      b.emit('msg', { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
      assert.deepEqual(await a.expect('msg', { also: [b] }), { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
      b.emit('msg', { to: idA, by: idB, type: 'ice', ice: ICE });
      assert.deepEqual(await a.expect('msg', { also: [b] }), { to: idA, by: idB, type: 'ice', ice: ICE });
      await barrier(a, 'cloudkibo');
      await barrier(b, 'cloudkibo');

      // The callee's socket closes: the caller hears the call ended and the
      // room lost its member, from two nodes.
      b.close();
      const events = await a.expectSet(['message', 'peer.disconnected']);
      assert.deepEqual(events.message, { ...callMsg(pa, pb, 'callended'), reason: 'disconnected' });
      assert.deepEqual(events['peer.disconnected'], { id: idB });
    });

    test(`tringtring with ${variant.label}: create-room on A, the page on B, joins from A and B, full-room on C`, async (t) => {
      const pools = nodes.map((node) => new SioPool(node.addr, variant));
      t.after(() => pools.forEach((p) => p.closeAll()));
      const id = unique('room').replace(/\D/g, '').slice(-9);
      assert.equal((await httpGet(nodes[1].addr, `/r/${id}/`)).status, 302, 'no room yet');
      const landing = await pools[0].connect('landing page on A');
      const ack = await landing.request('create-room', { room_id: id });
      assert.deepEqual(ack.args[0], { status: true, url_extend: `r/${id}` });
      assert.equal((await httpGet(nodes[1].addr, `/r/${id}/`)).status, 200, 'the call page on node B');

      const alice = await pools[0].connect('alice on A');
      const bob = await pools[1].connect('bob on B');
      const first = await alice.request('join', { room_id: id, peer_name: 'alice' });
      assert.deepEqual(first.args[0], { room_id: id, peers: [] });
      const second = await bob.request('join', { room_id: id, peer_name: 'bob' });
      assert.deepEqual(second.args[0].peers.filter((peer) => peer.peer_id !== bob.id), [{ peer_name: 'alice', peer_id: alice.id }]);
      const arrived = await alice.expectSet(['user-arrived', 'user-joined']);
      assert.deepEqual(arrived['user-joined'], { peer_name: 'bob', peer_id: bob.id, room_size: 2 });

      alice.emit('offer', { to: bob.id, type: 'offer', sdp: SDP_OFFER });
      assert.deepEqual(await bob.expect('offer', { also: [alice] }), { from: { name: 'alice', id: alice.id }, to: bob.id, type: 'offer', sdp: SDP_OFFER });
      bob.emit('answer', { to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      assert.deepEqual(await alice.expect('answer', { also: [bob] }), { from: { name: 'bob', id: bob.id }, to: alice.id, type: 'answer', sdp: SDP_ANSWER });
      bob.emit('ice-candidate', { from: bob.id, to: alice.id, candidate: ICE });
      assert.deepEqual((await alice.expect('ice-candidate', { also: [bob] })).candidate, ICE);

      const carol = await pools[2].connect('carol on C');
      carol.emit('join', { room_id: id, peer_name: 'carol' });
      await carol.expectEntry('full-room');
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');

      bob.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bob.id });
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bob.id });
    });
  }

  test('twenty tringtring clients on three nodes join one two-place room at once: exactly two get in', async (t) => {
    const variant = CHOSEN[0];
    const pools = nodes.map((node) => new SioPool(node.addr, variant));
    t.after(() => pools.forEach((p) => p.closeAll()));
    const id = unique('race').replace(/\D/g, '').slice(-9);
    const clients = [];
    for (let n = 0; n < 20; n += 1) clients.push(await pools[n % 3].connect(`joiner ${n} on node ${n % 3}`));
    const outcomes = await Promise.all(clients.map(async (sio, n) => {
      // Let in: the ack lists the room. Kept out: `full-room`, and no ack
      // (the original's silence).
      let acked = null;
      sio.socket.emit('join', { room_id: id, peer_name: `joiner-${n}` }, (...args) => { acked = args; sio.notify(); });
      const full = () => sio.received.some((entry) => entry.event === 'full-room');
      await waitFor(sio, () => acked !== null || full(), { what: `${sio.label}: an ack or full-room` });
      if (acked) {
        assert.deepEqual(acked[0].room_id, id);
        return 'in';
      }
      return 'full';
    }));
    assert.equal(outcomes.filter((o) => o === 'in').length, 2, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o === 'full').length, 18);
  });
});
