// Order: the events one socket.io client sends reach switchboard's core in
// the order they were sent, so the relays they cause reach the other client
// in that order too, for both socket.io dialects, with socket.io-client 2.x
// (Engine.IO v3) and 4.x (Engine.IO v4), over WebSocket only and over HTTP
// long-polling only.
//
// In each round one client emits EVENTS_PER_ROUND relayed events in one JS
// turn (so they leave in one WebSocket burst or one polling POST), each
// carrying its sequence number, and the receiver must get every one of them
// with no inversion (a pair received in the opposite order to the one it was
// sent in). The next round starts once all have arrived, which keeps the
// load within the server's per-socket bounds (256 events in the inbox and
// in socketioxide's buffer), and the server runs with a session queue large
// enough for a whole round of relays (see SESSION_QUEUE).
//
// A tringtring client that emits `create-room` and `join` for one room in
// the same turn must have them carried out in that order: the room is
// created (`redirect` {status: true}), then joined (the join ack).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startSwitchboard } from './support/servers.mjs';
import {
  SioPool,
  VARIANTS,
  barrier,
  callMsg,
  callThisPerson,
  joinGlobalChatroom,
  unique,
  waitFor,
} from './support/socketio.mjs';

const ROUNDS = 50;
const EVENTS_PER_ROUND = 200;
/**
 * `--session-queue` for these tests. Relays may fill three quarters of a
 * session's queue (the rest is kept for call events), and a relay beyond
 * that is refused to its sender as too fast. With the default of 256 that
 * is 192 relays, fewer than a round: when the receiver's task had not yet
 * been scheduled to take any (a loaded machine), the round's last relays
 * were refused and never arrived. Twice a round leaves room to spare.
 */
const SESSION_QUEUE = 2 * EVENTS_PER_ROUND;
/** Clients that each create and join a room of their own in one round. */
const CREATORS = 4;
/** socket.io-client 2.x and 4.x; 1.x speaks the same Engine.IO v3 as 2.x. */
const ORDER_VARIANTS = VARIANTS.filter((variant) => variant.client !== 'v1');

/** A room id as the original's landing page draws it (digits), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** The pairs (i < j) of `seqs` with seqs[i] > seqs[j]: 0 when `seqs` is in sending order. */
function countInversions(seqs) {
  let inversions = 0;
  for (let i = 0; i < seqs.length; i++) {
    for (let j = i + 1; j < seqs.length; j++) {
      if (seqs[i] > seqs[j]) inversions += 1;
    }
  }
  return inversions;
}

/**
 * The per-round figures of an order test, asserted at the end so that a
 * failure reports all the rounds: how many had inversions, how many
 * inversions in all, and the first bad round's arrival order.
 */
class OrderTally {
  constructor(label) {
    this.label = label;
    this.rounds = 0;
    this.badRounds = 0;
    this.inversions = 0;
    this.worst = 0;
    this.firstBad = null;
  }

  add(round, seqs) {
    this.rounds += 1;
    const inversions = countInversions(seqs);
    if (inversions === 0) return;
    this.badRounds += 1;
    this.inversions += inversions;
    this.worst = Math.max(this.worst, inversions);
    if (!this.firstBad) {
      const at = seqs.findIndex((seq, i) => i > 0 && seq < seqs[i - 1]);
      this.firstBad = { round, at, around: seqs.slice(Math.max(0, at - 5), at + 5) };
    }
  }

  summary() {
    return `${this.label}: ${this.badRounds} of ${this.rounds} rounds out of order, ${this.inversions} inversions in all (worst round ${this.worst})`
      + (this.firstBad ? `; first in round ${this.firstBad.round}: seq ${JSON.stringify(this.firstBad.around)} around arrival ${this.firstBad.at}` : '');
  }

  assertInOrder() {
    assert.equal(this.inversions, 0, this.summary());
  }
}

/**
 * `receiver` takes the next `count` events, each of which must be `event`;
 * `seqOf(payload)` gives the sequence number the sender put in it, and
 * `check(payload, seq)` may assert the rest of the payload. Resolves with the
 * sequence numbers in arrival order, after checking that each of 0..count-1
 * arrived exactly once.
 */
async function receiveSeqs(receiver, sender, event, count, seqOf, check) {
  const seqs = [];
  for (let i = 0; i < count; i++) {
    const payload = await receiver.expect(event, { also: [sender] });
    const seq = seqOf(payload);
    check?.(payload, seq);
    seqs.push(seq);
  }
  const sorted = [...seqs].sort((x, y) => x - y);
  assert.deepEqual(sorted, Array.from({ length: count }, (_, i) => i), `${receiver.label}: each of the ${count} events arrives exactly once`);
  return seqs;
}

/**
 * Waits for the answers to the `create-room` and `join` (both with acks)
 * that `sio` sent for room `id` in one turn, and resolves with what went
 * wrong (a string) or null: the room must be created (ack and `redirect`
 * {status: true}) and then joined (a join ack for `id`, after the
 * create-room ack). A join the server refuses gets `error` and no ack.
 */
async function createAndJoinOutcome(sio, id, what) {
  const acked = (event) => sio.received.find((entry) => entry.kind === 'ack' && entry.event === event);
  const eventNamed = (event) => sio.received.find((entry) => entry.kind === 'event' && entry.event === event);
  await waitFor(sio, () => acked('create-room') && eventNamed('redirect') && (acked('join') || eventNamed('error')), {
    what: `${sio.label}: ${what}: the answers to create-room and join`,
  });
  const [create, join, redirect] = [acked('create-room'), acked('join'), eventNamed('redirect')];
  const problems = [];
  if (!join) problems.push(`join refused: ${JSON.stringify(eventNamed('error').args)}`);
  else if (join.args[0]?.room_id !== id) problems.push(`join ack ${JSON.stringify(join.args)}`);
  if (create.args[0]?.status !== true) problems.push(`create-room ack ${JSON.stringify(create.args)}`);
  if (redirect.args[0]?.status !== true) problems.push(`redirect ${JSON.stringify(redirect.args)}`);
  if (join && join.seq < create.seq) problems.push('the join ack came before the create-room ack');
  return problems.length > 0 ? `${sio.label}: ${what}: ${problems.join('; ')}` : null;
}

describe('socket.io: one client\'s events are handled in the order sent', () => {
  let server;
  before(async () => {
    // Order is under test, not the per-connection rate limit, which would
    // refuse a client that sends 200 events at once after its burst, nor
    // the relay room of the receiver's queue (SESSION_QUEUE).
    server = await startSwitchboard(['--rate-limit', '0', '--session-queue', String(SESSION_QUEUE)]);
  });
  after(() => server?.stop());

  /** The sockets of one test, closed when it ends. */
  function pool(t, variant) {
    const p = new SioPool(server.addr, variant);
    t.after(() => p.closeAll());
    return p;
  }

  for (const variant of ORDER_VARIANTS) {
    test(`cloudkibo with ${variant.label}: ${ROUNDS} rounds of ${EVENTS_PER_ROUND} messages in one turn arrive in order`, async (t) => {
      const p = pool(t, variant);
      const [pa, pb] = [unique('+1555a'), unique('+1555b')];
      const a = await p.connect('caller');
      const b = await p.connect('callee');
      await joinGlobalChatroom(a, pa);
      await joinGlobalChatroom(b, pb);
      // An accepted call, as in the seed: ring, calleeisavailable, callaccepted.
      await callThisPerson(a, pa, pb);
      await b.expect('areyoufreeforcall');
      for (const status of ['calleeisavailable', 'callaccepted']) {
        b.emit('message', { to: pa, msg: callMsg(pa, pb, status) });
        assert.deepEqual(await a.expect('message', { also: [b] }), callMsg(pa, pb, status), `${a.label}: ${status}`);
      }

      const tally = new OrderTally(`cloudkibo ${variant.label}`);
      for (let round = 0; round < ROUNDS; round++) {
        const msgs = Array.from({ length: EVENTS_PER_ROUND }, (_, seq) => ({ callerphone: pa, calleephone: pb, type: 'order', round, seq }));
        for (const msg of msgs) a.emit('message', { to: pb, msg });
        const seqs = await receiveSeqs(b, a, 'message', EVENTS_PER_ROUND, (msg) => msg?.seq, (msg, seq) => {
          assert.deepEqual(msg, msgs[seq], `${b.label}: round ${round}: the relayed msg is the one sent`);
        });
        tally.add(round, seqs);
      }
      t.diagnostic(tally.summary());
      await barrier(a, 'cloudkibo');
      await barrier(b, 'cloudkibo');
      tally.assertInOrder();
    });

    test(`tringtring with ${variant.label}: ${ROUNDS} rounds of ${EVENTS_PER_ROUND} ice-candidates in one turn arrive in order`, async (t) => {
      const p = pool(t, variant);
      const id = roomId();
      const landing = await p.connect('landing page');
      const created = await landing.request('create-room', { room_id: id });
      assert.deepEqual(created.args, [{ status: true, url_extend: `r/${id}` }], `${landing.label}: create-room ack`);
      const alice = await p.connect('alice');
      const bob = await p.connect('bob');
      const aliceJoin = await alice.request('join', { room_id: id, peer_name: 'alice' });
      assert.equal(aliceJoin.args[0]?.room_id, id, `${alice.label}: join ack ${JSON.stringify(aliceJoin.args)}`);
      const bobJoin = await bob.request('join', { room_id: id, peer_name: 'bob' });
      assert.equal(bobJoin.args[0]?.room_id, id, `${bob.label}: join ack ${JSON.stringify(bobJoin.args)}`);
      await alice.expectSet(['user-arrived', 'user-joined']);

      const tally = new OrderTally(`tringtring ${variant.label}`);
      for (let round = 0; round < ROUNDS; round++) {
        const candidates = Array.from({ length: EVENTS_PER_ROUND }, (_, seq) => ({
          candidate: `candidate:${round} 1 udp 2122260223 192.0.2.1 ${50_000 + seq} typ host`,
          sdpMid: '0',
          sdpMLineIndex: 0,
          seq,
        }));
        for (const candidate of candidates) alice.emit('ice-candidate', { from: alice.id, to: bob.id, candidate });
        const seqs = await receiveSeqs(bob, alice, 'ice-candidate', EVENTS_PER_ROUND, (got) => got?.candidate?.seq, (got, seq) => {
          assert.deepEqual(got.candidate, candidates[seq], `${bob.label}: round ${round}: the relayed candidate is the one sent`);
        });
        tally.add(round, seqs);
      }
      t.diagnostic(tally.summary());
      await barrier(alice, 'tringtring');
      await barrier(bob, 'tringtring');
      tally.assertInOrder();
    });

    test(`tringtring with ${variant.label}: create-room then join in one turn, ${ROUNDS} rounds of ${CREATORS} clients: created, then joined`, async (t) => {
      const p = pool(t, variant);
      const failures = [];
      for (let round = 0; round < ROUNDS; round++) {
        const creators = await Promise.all(Array.from({ length: CREATORS }, (_, i) => p.connect(`creator ${round}.${i}`)));
        const rooms = creators.map(() => roomId());
        // Each creator sends both in one turn (and all of them in the same turn).
        creators.forEach((sio, i) => {
          sio.request('create-room', { room_id: rooms[i] }).catch(() => {});
          sio.request('join', { room_id: rooms[i], peer_name: 'creator' }).catch(() => {});
        });
        const outcomes = await Promise.all(creators.map((sio, i) => createAndJoinOutcome(sio, rooms[i], `round ${round}`)));
        failures.push(...outcomes.filter((problem) => problem !== null));
        for (const sio of creators) sio.close();
      }
      const tries = ROUNDS * CREATORS;
      t.diagnostic(`${failures.length} of ${tries} create-room + join pairs went wrong`);
      assert.deepEqual(failures.slice(0, 5), [], `${variant.label}: ${failures.length} of ${tries} create-room + join pairs did not create, then join (the first 5 listed)`);
    });
  }
});
