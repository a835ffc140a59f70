// The cloudkibo dialect (seed 000; README "The socket.io dialects") played
// by the real socket.io-client at 1.x, 2.x and 4.x over WebSocket only and
// over HTTP long-polling only, against switchboard at /socket.io/.
//
// Every step waits for the event it expects; timeouts are failure bounds.
// "Nothing else arrived" is shown by order (see `barrier` in
// support/socketio.mjs): the socket sends an event that is answered with
// `error`, and the next event it receives must be that `error`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import { startSwitchboard } from './support/servers.mjs';
import {
  SioPool,
  VARIANTS,
  assertErrorPayload,
  barrier,
  callMsg,
  callThisPerson,
  calleeOffline,
  joinGlobalChatroom,
  unique,
} from './support/socketio.mjs';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ICE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

/** `from` (a socket of `fromPhone`'s call) sends `message` `{to, msg}`; `to` must get `msg` as it was sent. */
async function relay(from, toSockets, toPhone, msg) {
  from.emit('message', { to: toPhone, msg });
  for (const sio of [toSockets].flat()) {
    const payload = await sio.expect('message', { also: [from] });
    assert.deepEqual(payload, msg, `${sio.label}: relayed message`);
  }
}

/** `sio` sends `event` and the next event it gets is `error` {message}. */
async function refused(sio, event, payload) {
  sio.emit(event, payload);
  const entry = await sio.next();
  assert.equal(entry.event, 'error', `${sio.label}: '${event}' ${JSON.stringify(payload)} should be refused with 'error', got '${entry.event}' ${JSON.stringify(entry.args)}`);
  assertErrorPayload(entry.args[0], sio);
}

/** The caller rings every socket of the callee: ack, then `areyoufreeforcall` on each. */
async function ring(caller, callerphone, calleeSockets, calleephone) {
  await callThisPerson(caller, callerphone, calleephone);
  for (const sio of [calleeSockets].flat()) {
    const payload = await sio.expect('areyoufreeforcall');
    assert.deepEqual(payload, { callerphone, calleephone, sendersocket: caller.id }, `${sio.label}: areyoufreeforcall`);
  }
}

/** A call from `a` to `b`, answered: ring, calleeisavailable, callaccepted. */
async function acceptedCall(a, pa, b, pb) {
  await ring(a, pa, b, pb);
  await relay(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
  await relay(b, a, pa, callMsg(pa, pb, 'callaccepted'));
}

/**
 * The `message` to a caller whose ringing callee disconnected: status
 * calleeoffline, in the server-made shape `{callerphone, calleephone, type,
 * status}`, or in the shape of an offline callee (with the seed's `msg`);
 * the README does not say which.
 */
async function expectCalleeOffline(sio, callerphone, calleephone) {
  const payload = await sio.expect('message');
  assert.ok(
    isDeepStrictEqual(payload, callMsg(callerphone, calleephone, 'calleeoffline'))
      || isDeepStrictEqual(payload, calleeOffline(callerphone, calleephone)),
    `${sio.label}: calleeoffline message ${JSON.stringify(payload)}`,
  );
}

for (const variant of VARIANTS) {
  describe(`cloudkibo with ${variant.label}`, { skip: variant.skip }, () => {
    let server;
    before(async () => {
      server = await startSwitchboard();
    });
    after(() => server?.stop());

    /** A caller and a callee, each a socket registered as a fresh phone. */
    async function twoPhones(p) {
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await p.connect('caller');
      const b = await p.connect('callee');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);
      return { a, b, pa, pb };
    }

    /** The sockets of one test, closed when it ends. */
    function pool(t) {
      const p = new SioPool(server.addr, variant);
      t.after(() => p.closeAll());
      return p;
    }

    test('two phones: call with an ack, accept, room name, init, SDP and ICE through msg, disconnect', async (t) => {
      const p = pool(t);
      const pa = unique('+1555a');
      const pb = unique('+1555b');
      const a = await p.connect('caller');
      const b = await p.connect('callee');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);

      // The ack arrives (within the seed's 15 s), then the callee rings.
      await ring(a, pa, b, pb);
      await relay(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
      await relay(b, a, pa, callMsg(pa, pb, 'callaccepted'));

      // The caller names the media room.
      const room = unique('room');
      await relay(a, b, pb, { callerphone: pa, calleephone: pb, type: 'room_name', room_name: room });

      // Both join it with init; the ack is (roomId, id, locked).
      const initA = await a.request('init', { room, username: pa });
      assert.equal(initA.args.length, 3, `init ack arguments ${JSON.stringify(initA.args)}`);
      const [roomA, idA, lockedA] = initA.args;
      assert.equal(roomA, room);
      assert.equal(typeof idA, 'number', `init ack id ${JSON.stringify(idA)}`);
      assert.equal(lockedA, false);
      const initB = await b.request('init', { room, username: pb });
      assert.equal(initB.args.length, 3, `init ack arguments ${JSON.stringify(initB.args)}`);
      const [roomB, idB, lockedB] = initB.args;
      assert.equal(roomB, room);
      assert.equal(typeof idB, 'number');
      assert.notEqual(idB, idA);
      assert.equal(lockedB, false);
      assert.deepEqual(await a.expect('peer.connected'), { id: idB, username: pb });

      // SDP and ICE through msg; `by` is set by the server (even when the
      // client claims another id).
      a.emit('msg', { to: idB, by: idA + 1000, type: 'sdp-offer', sdp: SDP_OFFER });
      assert.deepEqual(await b.expect('msg', { also: [a] }), { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
      b.emit('msg', { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
      assert.deepEqual(await a.expect('msg', { also: [b] }), { to: idA, by: idB, type: 'sdp-answer', sdp: SDP_ANSWER });
      a.emit('msg', { to: idB, by: idA, type: 'ice', ice: ICE });
      assert.deepEqual(await b.expect('msg', { also: [a] }), { to: idB, by: idA, type: 'ice', ice: ICE });
      b.emit('msg', { to: idA, by: idB, type: 'ice', ice: { ...ICE, sdpMLineIndex: 1 } });
      assert.deepEqual(await a.expect('msg', { also: [b] }), { to: idA, by: idB, type: 'ice', ice: { ...ICE, sdpMLineIndex: 1 } });

      // Nothing else reached either of them (b got no peer.connected for a).
      await barrier(a, 'cloudkibo');
      await barrier(b, 'cloudkibo');

      // The callee disconnects: the caller learns the call ended and the
      // media room lost a member; the callee's phone is offline now.
      b.close();
      const events = await a.expectSet(['message', 'peer.disconnected']);
      assert.deepEqual(events.message, { ...callMsg(pa, pb, 'callended'), reason: 'disconnected' });
      assert.deepEqual(events['peer.disconnected'], { id: idB });
      const again = await callThisPerson(a, pa, pb);
      const offline = await a.expectEntry('message');
      assert.ok(again.seq < offline.seq, 'the ack comes before the message');
      assert.deepEqual(offline.args, [calleeOffline(pa, pb)]);
    });

    test('message relays msg as it was sent, fields the server does not know included', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      // The seed: while the callee rings, the caller may tell it that video is on or off.
      await relay(a, b, pb, { callerphone: pa, calleephone: pb, type: 'video', video: false });
      await relay(b, a, pa, { ...callMsg(pa, pb, 'calleeisavailable'), device: 'android' });
      await relay(b, a, pa, { ...callMsg(pa, pb, 'callaccepted'), video: true });
      await relay(a, b, pb, { callerphone: pa, calleephone: pb, type: 'room_name', room_name: unique('room'), video: true });
      await barrier(a, 'cloudkibo');
      await barrier(b, 'cloudkibo');
    });

    test('callee offline: the ack first, then message calleeoffline', async (t) => {
      const p = pool(t);
      const pa = unique('+1555a');
      const nobody = unique('+1555z');
      const a = await p.connect('caller');
      await joinGlobalChatroom(a, pa);
      const ack = await callThisPerson(a, pa, nobody);
      const message = await a.expectEntry('message');
      assert.ok(ack.seq < message.seq, `the ack comes before the message: ${a.describeReceived()}`);
      assert.deepEqual(message.args, [calleeOffline(pa, nobody)]);
      await barrier(a, 'cloudkibo');
    });

    test('busy: a callee in a call is not rung, the caller gets calleeisbusy from the server', async (t) => {
      const p = pool(t);
      const [pa, pb, pc] = [unique('+1555a'), unique('+1555b'), unique('+1555c')];
      const a = await p.connect('caller');
      const b = await p.connect('callee');
      const c = await p.connect('second caller');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);
      await joinGlobalChatroom(c, pc);
      await acceptedCall(a, pa, b, pb);

      await callThisPerson(c, pc, pb);
      assert.deepEqual(await c.expect('message'), callMsg(pc, pb, 'calleeisbusy'));
      await barrier(b, 'cloudkibo');
      await barrier(a, 'cloudkibo');
      await barrier(c, 'cloudkibo');
    });

    test('busy: the callee device answers calleeisbusy, which ends the call', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      await relay(b, a, pa, callMsg(pa, pb, 'calleeisbusy'));
      // The call is over: b is no longer a party of a call with a.
      await refused(b, 'message', { to: pa, msg: callMsg(pa, pb, 'calleeisavailable') });
      await barrier(a, 'cloudkibo');
      // And the caller may call again: the callee rings.
      await ring(a, pa, b, pb);
    });

    test('reject: callrejected is relayed to the caller and ends the call', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      await relay(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
      await relay(b, a, pa, callMsg(pa, pb, 'callrejected'));
      await refused(b, 'message', { to: pa, msg: callMsg(pa, pb, 'callaccepted') });
      await refused(a, 'message', { to: pb, msg: { callerphone: pa, calleephone: pb, type: 'room_name', room_name: 'r' } });
      await ring(a, pa, b, pb);
    });

    test('no answer: after the ring timeout (1 s here) the caller gets noanswer and the callee missing', async (t) => {
      const quick = await startSwitchboard(['--ring-timeout', '1s']);
      t.after(() => quick.stop());
      const p = new SioPool(quick.addr, variant);
      t.after(() => p.closeAll());
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await p.connect('caller');
      const b = await p.connect('callee');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);
      await ring(a, pa, b, pb);
      // calleeisavailable (ringing) does not stop the ring timeout.
      await relay(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
      assert.deepEqual(await a.expect('message', { timeout: 10_000 }), callMsg(pa, pb, 'noanswer'));
      assert.deepEqual(await b.expect('message', { timeout: 10_000 }), callMsg(pa, pb, 'missing'));
      // The call is over.
      await refused(b, 'message', { to: pa, msg: callMsg(pa, pb, 'callaccepted') });
      await barrier(a, 'cloudkibo');
    });

    test('the caller gives up: missing is relayed to the callee and cancels the call', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      await relay(a, b, pb, callMsg(pa, pb, 'missing'));
      await refused(b, 'message', { to: pa, msg: callMsg(pa, pb, 'callaccepted') });
      await barrier(a, 'cloudkibo');
    });

    test('callended from one party ends an accepted call; the other gets callended with reason hangup', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await acceptedCall(a, pa, b, pb);
      // The server makes this status itself, with a reason.
      a.emit('message', { to: pb, msg: callMsg(pa, pb, 'callended') });
      assert.deepEqual(await b.expect('message', { also: [a] }), { ...callMsg(pa, pb, 'callended'), reason: 'hangup' });
      await refused(b, 'message', { to: pa, msg: callMsg(pa, pb, 'callended') });
      // Both are free again: b can call a.
      await ring(b, pb, a, pa);
    });

    test('the caller disconnects while ringing: the callee gets missing', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      a.drop(); // the transport closes without a socket.io DISCONNECT
      assert.deepEqual(await b.expect('message'), callMsg(pa, pb, 'missing'));
      await barrier(b, 'cloudkibo');
    });

    test('the callee disconnects while ringing: the caller gets calleeoffline', async (t) => {
      const { a, b, pa, pb } = await twoPhones(pool(t));
      await ring(a, pa, b, pb);
      b.close();
      await expectCalleeOffline(a, pa, pb);
      await barrier(a, 'cloudkibo');
    });

    test('a phone with two sockets: both ring; when one accepts, the other gets missing', async (t) => {
      const p = pool(t);
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await p.connect('caller');
      const b1 = await p.connect('callee phone, socket 1');
      const b2 = await p.connect('callee phone, socket 2');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b1, pb);
      await joinGlobalChatroom(b2, pb);
      await ring(a, pa, [b1, b2], pb);
      await relay(b1, a, pa, callMsg(pa, pb, 'calleeisavailable'));
      await relay(b1, a, pa, callMsg(pa, pb, 'callaccepted'));
      assert.deepEqual(await b2.expect('message'), callMsg(pa, pb, 'missing'));
      await barrier(b1, 'cloudkibo');
      await barrier(b2, 'cloudkibo');
      await barrier(a, 'cloudkibo');
    });

    test('media room: init acks, peer.connected, msg only to its addressee, peer.disconnected', async (t) => {
      const p = pool(t);
      const room = unique('room');
      const socks = [];
      const ids = [];
      for (const name of ['a', 'b', 'c']) {
        const sio = await p.connect(name);
        await joinGlobalChatroom(sio, unique(`+1555${name}`));
        const ack = await sio.request('init', { room, username: name });
        assert.deepEqual(ack.args.slice(0, 1).concat(ack.args.slice(2)), [room, false], `init ack ${JSON.stringify(ack.args)}`);
        assert.equal(ack.args.length, 3);
        assert.equal(typeof ack.args[1], 'number');
        assert.ok(!ids.includes(ack.args[1]), 'each member has its own id');
        // Every member already there learns of the new one.
        for (const earlier of socks) {
          assert.deepEqual(await earlier.expect('peer.connected'), { id: ack.args[1], username: name });
        }
        socks.push(sio);
        ids.push(ack.args[1]);
      }
      const [a, b, c] = socks;
      const [idA, idB, idC] = ids;

      a.emit('msg', { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
      assert.deepEqual(await b.expect('msg', { also: [a] }), { to: idB, by: idA, type: 'sdp-offer', sdp: SDP_OFFER });
      c.emit('msg', { to: idA, by: idC, type: 'ice', ice: ICE });
      assert.deepEqual(await a.expect('msg', { also: [c] }), { to: idA, by: idC, type: 'ice', ice: ICE });
      await barrier(c, 'cloudkibo');
      await barrier(b, 'cloudkibo');
      await barrier(a, 'cloudkibo');

      c.drop();
      assert.deepEqual(await a.expect('peer.disconnected'), { id: idC });
      assert.deepEqual(await b.expect('peer.disconnected'), { id: idC });
    });

    test('refused events get error {message} and change nothing', async (t) => {
      const p = pool(t);
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];

      // Before registration.
      const x = await p.connect('unregistered');
      const b = await p.connect('callee');
      await joinGlobalChatroom(b, pb);
      await refused(x, 'callthisperson', { room: 'globalchatroom', callerphone: pa, calleephone: pb });
      await refused(x, 'message', { to: pb, msg: callMsg(pa, pb, 'calleeisavailable') });
      await refused(x, 'init', { room: unique('room'), username: 'x' });
      // A malformed registration does not register.
      await refused(x, 'join global chatroom', { room: 'globalchatroom' });
      await refused(x, 'callthisperson', { room: 'globalchatroom', callerphone: pa, calleephone: pb });
      await barrier(b, 'cloudkibo');

      // callerphone must be the socket's own phone.
      const a = await p.connect('caller');
      await joinGlobalChatroom(a, pa);
      const other = unique('+1555o');
      a.socket.emit('callthisperson', { room: 'globalchatroom', callerphone: other, calleephone: pb }, () => {});
      const entry = await a.next();
      assert.equal(entry.event, 'error', `callthisperson as another phone: got '${entry.event}' ${JSON.stringify(entry.args)}`);
      assertErrorPayload(entry.args[0], a);
      await barrier(b, 'cloudkibo');

      // A message to a phone the sender has no call with.
      await refused(a, 'message', { to: pb, msg: callMsg(pa, pb, 'callaccepted') });
      await barrier(b, 'cloudkibo');

      // Malformed payloads.
      await refused(a, 'callthisperson', 'not an object');
      await refused(a, 'message', { to: pb });

      // tringtring's events on a cloudkibo socket.
      await refused(a, 'join', { room_id: unique('room'), peer_name: 'alice' });
      await refused(a, 'create-room', { room_id: unique('room') });
      await barrier(b, 'cloudkibo');

      // a is still the cloudkibo phone pa: it can call b.
      await ring(a, pa, b, pb);
    });
  });
}
