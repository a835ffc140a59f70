// A cloudkibo phone on the real socket.io-client (2.x, what CloudKibo's
// clients ship, and 4.x) calls a chatroulette user on a real WebSocket, and
// the other way round, on switchboard: the server plays cloudkibo's media
// room for the chatroulette side (Step 13), so the SDP and ICE cross as
// `msg` on one side and chatroulette's own frames on the other.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { once } from 'node:events';
import WebSocket from 'ws';

import { JsonClient } from './support/client.mjs';
import { startSwitchboard } from './support/servers.mjs';
import { SioPool, VARIANTS, callMsg, callThisPerson, joinGlobalChatroom, unique } from './support/socketio.mjs';

const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ICE = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 };

/** CloudKibo's own form of a candidate in `msg` (Android `WebRtcClient.onIceCandidate`). */
const KIBO_ICE = { type: 'candidate', ...ICE };

const VARIANTS_HERE = VARIANTS.filter((v) => ['v2', 'v4'].includes(v.client) && v.transport === 'websocket');

describe('cloudkibo and chatroulette call each other', () => {
  let server;
  before(async () => {
    server = await startSwitchboard();
  });
  after(() => server?.stop());

  /** A chatroulette client of the original's short codes, connected as `name`. */
  async function chatroulette(t, name) {
    const ws = new WebSocket(`ws://${server.addr}/ws/chatroulette`);
    const client = new JsonClient(ws);
    await once(ws, 'open');
    t.after(() => client.close());
    client.send({ type: 'c', payload: name });
    assert.deepEqual(await client.next(), { type: 'cd' });
    return client;
  }

  for (const variant of VARIANTS_HERE) {
    test(`${variant.label}: a phone calls a chatroulette user, names its room, and offers when the room shows the peer`, async (t) => {
      const pool = new SioPool(server.addr, variant);
      t.after(() => pool.closeAll());
      const phone = unique('+1555k');
      const bob = unique('bob');
      const kibo = await pool.connect('phone');
      await joinGlobalChatroom(kibo, phone);
      const chat = await chatroulette(t, bob);

      await callThisPerson(kibo, phone, bob);
      assert.deepEqual(await chat.next(), { type: 'cr', payload: phone });
      chat.send({ type: 'ac', payload: phone });
      assert.deepEqual(await kibo.expect('message'), callMsg(phone, bob, 'callaccepted'));

      const room = unique('kibo-room');
      kibo.emit('message', { to: bob, msg: { callerphone: phone, calleephone: bob, type: 'room_name', room_name: room } });
      const init = await kibo.request('init', { room, username: phone });
      assert.deepEqual(init.args, [room, 1, false]);
      assert.deepEqual(await kibo.expect('peer.connected'), { id: 2, username: bob });

      kibo.emit('msg', { to: 2, by: 1, type: 'offer', sdp: OFFER });
      assert.deepEqual(await chat.next(), { type: 'cdr', payload: { from: phone, sdp: OFFER } });
      chat.send({ type: 'srd', payload: { to: phone, sdp: ANSWER } });
      assert.deepEqual(await kibo.expect('msg'), { to: 1, by: 2, username: bob, type: 'answer', sdp: ANSWER });
      kibo.emit('msg', { to: 2, by: 1, type: 'ice', ice: KIBO_ICE });
      assert.deepEqual(await chat.next(), { type: 'icr', payload: { from: phone, candidate: ICE } });
      chat.send({ type: 'sic', payload: { to: phone, candidate: ICE } });
      assert.deepEqual(await kibo.expect('msg'), { to: 1, by: 2, username: bob, type: 'ice', ice: KIBO_ICE });

      chat.send({ type: 'hu', payload: phone });
      assert.deepEqual(await kibo.expect('peer.disconnected'), { id: 2 });
      assert.deepEqual(await kibo.expect('message'), { ...callMsg(phone, bob, 'callended'), reason: 'hangup' });
    });

    test(`${variant.label}: a chatroulette user calls a phone, which is sent the room name and gets the held offer on init`, async (t) => {
      const pool = new SioPool(server.addr, variant);
      t.after(() => pool.closeAll());
      const phone = unique('+1555k');
      const alice = unique('alice');
      const kibo = await pool.connect('phone');
      await joinGlobalChatroom(kibo, phone);
      const chat = await chatroulette(t, alice);

      chat.send({ type: 'rc', payload: phone });
      const ring = await kibo.expect('areyoufreeforcall');
      assert.deepEqual([ring.callerphone, ring.calleephone], [alice, phone]);
      kibo.emit('message', { to: alice, msg: callMsg(alice, phone, 'calleeisavailable') });
      kibo.emit('message', { to: alice, msg: callMsg(alice, phone, 'callaccepted') });
      assert.deepEqual(await chat.next(), { type: 'ca', payload: phone });
      const named = await kibo.expect('message');
      assert.deepEqual([named.type, named.callerphone, named.calleephone], ['room_name', alice, phone]);

      chat.send({ type: 'scd', payload: { to: phone, sdp: OFFER } });
      const init = await kibo.request('init', { room: named.room_name, username: phone });
      assert.deepEqual(init.args, [named.room_name, 2, false]);
      assert.deepEqual(await kibo.expect('msg'), { to: 2, by: 1, username: alice, type: 'offer', sdp: OFFER });
      kibo.emit('msg', { to: 1, by: 2, type: 'answer', sdp: ANSWER });
      assert.deepEqual(await chat.next(), { type: 'rdr', payload: { from: phone, sdp: ANSWER } });

      kibo.emit('message', { to: alice, msg: callMsg(alice, phone, 'callended') });
      assert.deepEqual(await chat.next(), { type: 'ce', payload: phone, reason: 'hangup' });
    });
  }
});
