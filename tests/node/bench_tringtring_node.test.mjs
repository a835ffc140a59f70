// scripts/tringtring-node.mjs, the Node socket.io 4 server that
// scripts/bench measures beside switchboard's tringtring dialect, does the
// job it stands for: Tring-Tring's server's rooms of two and relays, plus
// the acks switchboard's dialect adds, which the generator waits for. A
// benchmark peer that did less would flatter itself.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

import { repoRoot } from './support/servers.mjs';
import { SioPool, unique } from './support/socketio.mjs';

const V4_WEBSOCKET = { client: 'v4', transport: 'websocket', label: 'socket.io-client 4 over websocket' };
const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 };

let child;
let addr;

before(async () => {
  child = spawn(process.execPath, [path.join(repoRoot, 'scripts/tringtring-node.mjs'), '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = readline.createInterface({ input: child.stderr });
  addr = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`tringtring-node exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const found = /tringtring-node on (\S+)/.exec(line);
      if (found) resolve(found[1]);
    });
  });
});

after(() => child?.kill('SIGTERM'));

test('rooms of two: create, join, user-joined, full-room for a third', async (t) => {
  const pool = new SioPool(addr, V4_WEBSOCKET);
  t.after(() => pool.closeAll());
  const [a, b, c] = [await pool.connect('a'), await pool.connect('b'), await pool.connect('c')];
  const room = unique('room');

  const created = await a.request('create-room', { room_id: room });
  assert.deepEqual(created.args, [{ status: true, url_extend: `r/${room}` }]);
  assert.deepEqual(await a.expect('redirect'), { status: true, url_extend: `r/${room}` });
  const again = await b.request('create-room', { room_id: room });
  assert.equal(again.args[0].status, true, 'an empty room may be created again');
  await b.expect('redirect');

  assert.deepEqual((await a.request('join', { room_id: room, peer_name: 'ann' })).args, [{ room_id: room, peers: [] }]);
  assert.deepEqual((await b.request('join', { room_id: room, peer_name: 'bob' })).args, [
    { room_id: room, peers: [{ peer_name: 'ann', peer_id: a.id }] },
  ]);
  assert.deepEqual(await a.expect('user-joined'), { peer_name: 'bob', peer_id: b.id, room_size: 2 });

  const taken = await c.request('create-room', { room_id: room });
  assert.equal(taken.args[0].status, false, 'a room in use is not created again');
  await c.expect('redirect');
  c.emit('join', { room_id: room, peer_name: 'cat' });
  await c.expect('full-room');
});

test('offer, answer and ice-candidate go unchanged to `to`; cut-the-call and a disconnect say user-left', async (t) => {
  const pool = new SioPool(addr, V4_WEBSOCKET);
  t.after(() => pool.closeAll());
  const [a, b] = [await pool.connect('a'), await pool.connect('b')];
  const room = unique('room');
  await a.request('create-room', { room_id: room });
  await a.expect('redirect');
  await a.request('join', { room_id: room, peer_name: 'ann' });
  await b.request('join', { room_id: room, peer_name: 'bob' });
  await a.expect('user-joined');

  const offer = { from: { name: 'ann', id: a.id }, to: b.id, type: 'offer', sdp: OFFER };
  a.emit('offer', offer);
  assert.deepEqual(await b.expect('offer'), offer);
  const answer = { from: { name: 'bob', id: b.id }, to: a.id, type: 'answer', sdp: { ...OFFER, type: 'answer' } };
  b.emit('answer', answer);
  assert.deepEqual(await a.expect('answer'), answer);
  for (const [from, to] of [[a, b], [b, a]]) {
    const ice = { from: from.id, to: to.id, candidate: CANDIDATE };
    from.emit('ice-candidate', ice);
    assert.deepEqual(await to.expect('ice-candidate'), ice);
  }

  a.emit('cut-the-call', { room_id: room, peer_name: 'ann', peer_id: a.id });
  assert.deepEqual(await b.expect('user-left'), { peer_id: a.id });
  // ann may join again; then bob's disconnect tells her.
  await a.request('join', { room_id: room, peer_name: 'ann' });
  await b.expect('user-joined');
  const bobId = b.id;
  b.close();
  assert.deepEqual(await a.expect('user-left'), { peer_id: bobId });
});
