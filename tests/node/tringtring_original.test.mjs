// The Tring-Tring flow as the original app's own pages drive it
// (karthikrangasai/Tring-Tring: public/index.pug, public/js/index.js,
// public/js/videocall.js), against switchboard.
//
// The original landing page has no socket: its create and join forms are
// plain HTML forms that POST to `r/<id>` (urlencoded: create_room_id,
// create_room_password, func_type=create; or join_room_id,
// join_room_password, func_type=join), and the server answers with the call
// page. That page's socket (socket.io-client 2.x) only ever emits `join`
// {room_id, peer_name}, `offer`/`answer` {from: {name, id}, to, type, sdp},
// `ice-candidate` {from: socket.id, to, candidate} and `cut-the-call`
// {room_id, peer_name, peer_id}, all without ack callbacks, and it listens
// for `full-room`, `user-joined`, `offer`, `answer` and `user-left` only: it
// has no `error` handler, so a refusal is invisible to its user.
//
// Every step waits for the event it expects; timeouts are failure bounds
// only. "Nothing else arrived" is shown by order (`barrier`), and where the
// original page sends something the server may refuse, `settle` shows that
// nothing but those refusals arrived.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import { startSwitchboard } from './support/servers.mjs';
import { SioPool, VARIANTS, assertErrorPayload, barrier, httpGet, unique } from './support/socketio.mjs';

const SDP_OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const SDP_ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

/** The original call page ships socket.io-client 2.x (2.3.0 from a CDN): both of its transports. */
const ORIGINAL_VARIANTS = VARIANTS.filter((variant) => variant.client === 'v2');

/** A room id as the original's landing page draws it (digits), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** The body the original landing page's create form posts (password box unchecked: no password_exists). */
function createForm(id) {
  return new URLSearchParams({ create_room_id: id, create_room_password: 'k3j4h5g6', func_type: 'create' }).toString();
}

/** The body the original landing page's join form posts. */
function joinForm(id) {
  return new URLSearchParams({ join_room_id: id, join_room_password: '', func_type: 'join' }).toString();
}

/**
 * POSTs to `http://addr{path}` as a browser submits a form, without
 * following redirects: with `body`, as application/x-www-form-urlencoded;
 * without, an empty request.
 */
async function httpPost(addr, path, body) {
  const init = { method: 'POST', redirect: 'manual' };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/x-www-form-urlencoded' };
    init.body = body;
  }
  const res = await fetch(`http://${addr}${path}`, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** `res` is the call page of room `id`: 200, HTML, naming the room. */
function assertCallPage(res, id, what) {
  assert.equal(res.status, 200, `${what}: status (body ${JSON.stringify(res.body.slice(0, 200))})`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${what}: content-type`);
  assert.ok(res.body.includes(id), `${what}: the page names room ${id}`);
}

/** GET /r/<id>/ redirects (302) to `/`: the room does not exist. */
async function assertNoRoom(addr, id) {
  const res = await httpGet(addr, `/r/${id}/`);
  assert.equal(res.status, 302, `GET /r/${id}/ for a room nobody made`);
  assert.ok(['/', `http://${addr}/`].includes(res.headers.get('location')), `location ${res.headers.get('location')}`);
}

/** GET /r/<id>/ answers the call page: the room exists. */
async function assertRoom(addr, id) {
  assertCallPage(await httpGet(addr, `/r/${id}/`), id, `GET /r/${id}/`);
}

/** The original page's join: an emit with no ack. */
function join(sio, id, name) {
  sio.emit('join', { room_id: id, peer_name: name });
}

/**
 * The first peer learns of `joiner`: `user-joined` {peer_name, peer_id,
 * room_size} (what the original page listens for), beside the seed's
 * `user-arrived`, in either order.
 */
async function expectJoined(sio, joiner, name, roomSize) {
  const events = await sio.expectSet(['user-arrived', 'user-joined']);
  const expected = { peer_name: name, peer_id: joiner.id, room_size: roomSize };
  assert.deepEqual(events['user-joined'], expected, `${sio.label}: user-joined`);
  assert.deepEqual(events['user-arrived'], expected, `${sio.label}: user-arrived`);
}

/** The original page's offer (or answer) from `from` (named `name`) to `to`, and its relay. */
async function relayDescription(kind, from, name, to, sdp) {
  const payload = { from: { name, id: from.id }, to: to.id, type: kind, sdp };
  from.emit(kind, payload);
  assert.deepEqual(await to.expect(kind, { also: [from] }), payload, `${to.label}: ${kind}`);
}

/** The original page's trickle ICE `{from: socket.id, to, candidate}`, and its relay. */
async function relayCandidate(from, name, to, candidate) {
  from.emit('ice-candidate', { from: from.id, to: to.id, candidate });
  const got = await to.expect('ice-candidate', { also: [from] });
  assert.equal(got.to, to.id);
  assert.deepEqual(got.candidate, candidate);
  assert.ok(
    got.from === from.id || isDeepStrictEqual(got.from, { name, id: from.id }),
    `ice-candidate from ${JSON.stringify(got.from)}`,
  );
}

/**
 * Shows what reached `sio` so far, tolerating the events in `allowed`:
 * `sio` emits `create-room` for room `id` (no ack), which changes nothing
 * for a room in use or already there and is answered with `redirect`; every
 * event before that `redirect` must be one of `allowed`. Resolves with
 * those events ({event, args}). An `error` must be `{message}`.
 */
async function settle(sio, id, allowed = ['error']) {
  sio.emit('create-room', { room_id: id });
  const seen = [];
  for (;;) {
    const entry = await sio.next();
    if (entry.event === 'redirect') {
      assert.equal(typeof entry.args[0]?.status, 'boolean', `${sio.label}: redirect ${JSON.stringify(entry.args)}`);
      return seen;
    }
    assert.ok(allowed.includes(entry.event), `${sio.label}: only ${JSON.stringify(allowed)} may come here, got '${entry.event}' ${JSON.stringify(entry.args)}`);
    if (entry.event === 'error') assertErrorPayload(entry.args[0], sio);
    seen.push(entry);
  }
}

describe('the original landing page forms: POST /r/<id>', () => {
  let server;
  before(async () => {
    server = await startSwitchboard();
  });
  after(() => server?.stop());

  test('the create form: POST /r/<id> answers 200 with the call page, and the room exists', async () => {
    const id = roomId();
    await assertNoRoom(server.addr, id);
    assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id}`);
    await assertRoom(server.addr, id);
    // The form posted again for the same (empty) room: the call page again.
    assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id} again`);
    await assertRoom(server.addr, id);
  });

  test('POST /r/<id>/ (trailing slash) does the same', async () => {
    const id = roomId();
    await assertNoRoom(server.addr, id);
    assertCallPage(await httpPost(server.addr, `/r/${id}/`, createForm(id)), id, `POST /r/${id}/`);
    await assertRoom(server.addr, id);
  });

  test('a POST with no body does the same', async () => {
    const id = roomId();
    await assertNoRoom(server.addr, id);
    assertCallPage(await httpPost(server.addr, `/r/${id}`), id, `POST /r/${id} without a body`);
    await assertRoom(server.addr, id);
  });

  test('the join form: POST /r/<id> with func_type=join answers the call page', async () => {
    const id = roomId();
    assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id} (create)`);
    assertCallPage(await httpPost(server.addr, `/r/${id}`, joinForm(id)), id, `POST /r/${id} (join)`);
    await assertRoom(server.addr, id);
  });
});

for (const variant of ORIGINAL_VARIANTS) {
  describe(`the original call page's socket: ${variant.label}`, () => {
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

    test('form POST, then join only: user-joined, offer, answer, ICE both ways, full-room, cut-the-call', async (t) => {
      const p = pool(t);
      const id = roomId();

      // The landing page's create form; the browser shows the answer, the call page.
      await assertNoRoom(server.addr, id);
      assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id}`);
      await assertRoom(server.addr, id);

      // Each call page's socket emits only `join`, with no ack. The first
      // joiner hears nothing (in particular no `error`).
      const alice = await p.connect('alice');
      join(alice, id, 'alice');
      await barrier(alice, 'tringtring');
      const bob = await p.connect('bob');
      join(bob, id, 'bob');
      await expectJoined(alice, bob, 'bob', 2);
      await barrier(bob, 'tringtring');

      // alice got user-joined, so she offers; bob answers; ICE both ways.
      await relayDescription('offer', alice, 'alice', bob, SDP_OFFER);
      await relayDescription('answer', bob, 'bob', alice, SDP_ANSWER);
      await relayCandidate(alice, 'alice', bob, CANDIDATE);
      await relayCandidate(bob, 'bob', alice, { ...CANDIDATE, sdpMLineIndex: 1 });

      // A third page finds the room full; nobody else hears of it.
      const carol = await p.connect('carol');
      join(carol, id, 'carol');
      await carol.expectEntry('full-room');
      await barrier(carol, 'tringtring');
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');

      // Someone posts the landing page's join form for the room in use: the
      // call page, and the room is left as it is (still full).
      assertCallPage(await httpPost(server.addr, `/r/${id}`, joinForm(id)), id, `POST /r/${id} (join form, room in use)`);
      assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id} (create form, room in use)`);
      join(carol, id, 'carol');
      await carol.expectEntry('full-room');
      await barrier(carol, 'tringtring');
      await barrier(alice, 'tringtring');

      // bob hangs up: the page emits cut-the-call with its own id.
      bob.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bob.id });
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bob.id });
      await barrier(alice, 'tringtring');

      // There is a place again: carol's page joins, alice offers again.
      join(carol, id, 'carol');
      await expectJoined(alice, carol, 'carol', 2);
      await barrier(carol, 'tringtring');
      await relayDescription('offer', alice, 'alice', carol, SDP_OFFER);

      // A closed tab counts as leaving.
      const carolId = carol.id;
      carol.drop();
      assert.deepEqual(await alice.expect('user-left'), { peer_id: carolId });
      await barrier(alice, 'tringtring');
    });

    test('a join for a room nobody created (no POST, no create-room) creates it and joins', async (t) => {
      const p = pool(t);
      const id = roomId();
      await assertNoRoom(server.addr, id);

      const carol = await p.connect('carol');
      join(carol, id, 'carol');
      // No `error`, nothing at all.
      await barrier(carol, 'tringtring');
      await assertRoom(server.addr, id);

      const dave = await p.connect('dave');
      join(dave, id, 'dave');
      await expectJoined(carol, dave, 'dave', 2);
      await barrier(dave, 'tringtring');
      await relayDescription('offer', carol, 'carol', dave, SDP_OFFER);
      await relayDescription('answer', dave, 'dave', carol, SDP_ANSWER);
      await relayCandidate(dave, 'dave', carol, CANDIDATE);

      // It holds two, like any room.
      const eve = await p.connect('eve');
      join(eve, id, 'eve');
      await eve.expectEntry('full-room');
      await barrier(eve, 'tringtring');

      carol.emit('cut-the-call', { room_id: id, peer_name: 'carol', peer_id: carol.id });
      assert.deepEqual(await dave.expect('user-left'), { peer_id: carol.id });
      await barrier(dave, 'tringtring');
      await barrier(carol, 'tringtring');
    });

    test('create-room still works as before: a new id, a room made by a form, a room in use', async (t) => {
      const p = pool(t);
      const landing = await p.connect('landing page');

      // A new id, with an ack: the ack and the redirect event agree.
      const id = roomId();
      const ack = await landing.request('create-room', { room_id: id });
      assert.deepEqual(ack.args, [{ status: true, url_extend: `r/${id}` }], 'create-room ack');
      assert.deepEqual(await landing.expect('redirect'), { status: true, url_extend: `r/${id}` });
      await assertRoom(server.addr, id);

      // Without an ack, for a room a form made and nobody joined yet (empty: status true).
      const posted = roomId();
      assertCallPage(await httpPost(server.addr, `/r/${posted}`, createForm(posted)), posted, `POST /r/${posted}`);
      landing.emit('create-room', { room_id: posted });
      assert.deepEqual(await landing.expect('redirect'), { status: true, url_extend: `r/${posted}` });

      // The two join the room create-room made, with the original page's ack-less join.
      const alice = await p.connect('alice');
      const bob = await p.connect('bob');
      join(alice, id, 'alice');
      await barrier(alice, 'tringtring');
      join(bob, id, 'bob');
      await expectJoined(alice, bob, 'bob', 2);
      await barrier(bob, 'tringtring');

      // Now it is in use.
      landing.emit('create-room', { room_id: id });
      const inUse = await landing.expect('redirect');
      assert.equal(inUse?.status, false, `create-room for a room in use: ${JSON.stringify(inUse)}`);
      assert.equal(typeof inUse.error, 'string');
      await barrier(landing, 'tringtring');
    });

    test('what else the original page sends (null candidate, no `to`, its own user-left, cut-the-call twice) is only ever refused', async (t) => {
      const p = pool(t);
      const id = roomId();
      assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id}`);
      const alice = await p.connect('alice');
      const bob = await p.connect('bob');
      join(alice, id, 'alice');
      await barrier(alice, 'tringtring');
      join(bob, id, 'bob');
      await expectJoined(alice, bob, 'bob', 2);
      await relayDescription('offer', alice, 'alice', bob, SDP_OFFER);
      await relayDescription('answer', bob, 'bob', alice, SDP_ANSWER);

      // onicecandidate forwards the end-of-candidates event too: candidate null.
      alice.emit('ice-candidate', { from: alice.id, to: bob.id, candidate: null });
      await settle(alice, id);
      for (const entry of await settle(bob, id, ['error', 'ice-candidate'])) {
        if (entry.event === 'ice-candidate') assert.equal(entry.args[0]?.candidate, null, `relayed end-of-candidates ${JSON.stringify(entry.args)}`);
      }

      // The answer handler reads `data.from.is`, so the offerer's later
      // candidates go out with `to` undefined (JSON drops the key).
      alice.emit('ice-candidate', { from: alice.id, candidate: CANDIDATE });
      await settle(alice, id);
      for (const entry of await settle(bob, id, ['error', 'ice-candidate'])) {
        if (entry.event === 'ice-candidate') assert.deepEqual(entry.args[0]?.candidate, CANDIDATE);
      }

      // On an ICE state of `closed` the page emits `user-left` itself; the
      // original server had no handler for it: nobody leaves.
      alice.emit('user-left', { peer_id: bob.id });
      await settle(alice, id);
      await barrier(bob, 'tringtring');
      await relayCandidate(bob, 'bob', alice, CANDIDATE);

      // Hanging up emits cut-the-call, then the page goes to `/`, whose
      // unload handler emits it again: alice is told once.
      bob.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bob.id });
      bob.emit('cut-the-call', { room_id: id, peer_name: 'bob', peer_id: bob.id });
      assert.deepEqual(await alice.expect('user-left'), { peer_id: bob.id });
      await settle(bob, id);
      await barrier(alice, 'tringtring');

      // alice's page, told, goes to `/` too, and its unload emits cut-the-call.
      alice.emit('cut-the-call', { room_id: id, peer_name: 'alice', peer_id: alice.id });
      await settle(alice, id);
      await barrier(bob, 'tringtring');
      assert.ok(!alice.disconnected && !bob.disconnected, 'the sockets are still connected');

      // The room is still there, empty: the form again, and two new pages meet in it.
      assertCallPage(await httpPost(server.addr, `/r/${id}`, createForm(id)), id, `POST /r/${id} (again)`);
      const carol = await p.connect('carol');
      const dave = await p.connect('dave');
      join(carol, id, 'carol');
      await barrier(carol, 'tringtring');
      join(dave, id, 'dave');
      await expectJoined(carol, dave, 'dave', 2);
      await barrier(dave, 'tringtring');
    });
  });
}
