// Differential test of the calling dialect: the same scripted sessions run
// against the original calling-signaling 0.1.4 and against switchboard, and
// what every user receives in every step is compared (see
// support/session.mjs for how a script runs and a step is delimited).
//
// Normalisation, on both servers: user ids become U1, U2, ... (connection
// order); ids of rooms the server drew (room_join without `room`) become R1,
// R2, ...; within one step and one user, messages are compared as a multiset.
//
// Deliberate differences of switchboard from the original, normalised or
// skipped here:
//  a. switchboard also sends the seed's event names next to the original's:
//     each `ns_room_peer_add` / `_rm` / `_update` comes with an identical
//     `ns_room_user_add` / `_rm` / `_update`, each `ns_user_update` with an
//     identical `user_update` (PROTOCOLS.md: clients that listen only for
//     either set of names must both be told). Checked: in switchboard's
//     stream, per step and user, the two sets pair up one to one with equal
//     content; then the seed-named ones are dropped.
//  b. the answer to `status` carries no `data`; the original answers
//     `data: true|false`, an accident of CoffeeScript's implicit return (the
//     result of `user.emit(...)`). `data` is dropped from status answers of
//     both servers.
//  c. the original never sends `ns_room_update` (rooms.js never emits the
//     'status_changed' that registry.js listens for), and omits
//     `ns_room_peer_rm` when a peer is removed other than by disconnecting
//     (room_leave, a denied or cancelled invitation), as registry.js only
//     listens for the peer's 'left'. switchboard sends both. Compared one
//     way: everything the original sends must be in switchboard's stream,
//     and switchboard's extra events may only be `ns_room_update` in a
//     room_status step and `ns_room_peer_rm` in a room_leave, invite_deny,
//     invite_cancel or disconnect step, each with exactly the fields of its
//     kind.
//  d. requests without `tid`: the original answers `{type: "error", error:
//     "Missing tid in message"}`, switchboard carries them out silently (the
//     seed's rule). Malformed JSON: the original answers `{type: "error",
//     error: {}}` and then sends nothing more on that socket (it means to
//     close it and fails; see the test below); switchboard answers
//     `{type: "error", error: ...}` and keeps serving the socket.
//     The scripts always send a tid and valid JSON; separate tests below
//     check each server's own behaviour for these two.
//  e. `hello.server` is "switchboard 0.1.0" instead of "calling-signaling
//     1.0"; `server` is dropped from hellos (and checked to be a string).
//
// The harness is validated by running every script original against
// original as well (must pass every time).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startOriginal, startSwitchboard } from './support/servers.mjs';
import { connect } from './support/client.mjs';
import { canonical, renameIds, runScript } from './support/session.mjs';

// ---------------------------------------------------------------------------
// Scripts. Each step: [user, request] (a tid is added), [user, 'close'] or
// [user, 'terminate'] (see support/session.mjs).

const SCRIPTS = [
  {
    name: 'namespace users and status',
    users: 4,
    steps: [
      ['U1', { type: 'ns_subscribe', namespace: 'ns-a' }],
      ['U1', { type: 'ns_subscribe', namespace: 'ns-a' }], // already subscribed
      ['U2', { type: 'status', status: { mood: 'idle' } }],
      ['U2', { type: 'ns_user_register', namespace: 'ns-a' }],
      ['U2', { type: 'ns_user_register', namespace: 'ns-a' }], // already registered
      ['U3', { type: 'ns_subscribe', namespace: 'ns-a' }], // sees U2 in the answer
      ['U2', { type: 'status', status: { mood: 'busy', n: 1 } }], // ns_user_update
      ['U3', { type: 'ns_user_register', namespace: 'ns-a' }], // U3 is told of itself
      ['U3', { type: 'status', status: { mood: 'away' } }],
      ['U4', { type: 'ns_user_register', namespace: 'ns-b' }], // a namespace nobody watches
      ['U4', { type: 'ns_subscribe', namespace: 'ns-b' }], // sees itself
      ['U1', { type: 'ns_unsubscribe', namespace: 'ns-a' }],
      ['U1', { type: 'ns_unsubscribe', namespace: 'ns-a' }], // not subscribed
      ['U1', { type: 'ns_user_unregister', namespace: 'ns-a' }], // not registered
      ['U1', { type: 'ns_unsubscribe', namespace: 'ns-none' }], // namespace does not exist
      ['U1', { type: 'ns_user_unregister', namespace: 'ns-none' }],
      ['U2', { type: 'ns_user_unregister', namespace: 'ns-a' }], // U3 gets ns_user_rm
      ['U2', { type: 'status', status: {} }], // nobody watches U2 any more
      ['U1', { type: 'ns_subscribe', namespace: 'ns-a' }],
      ['U2', { type: 'ns_user_register', namespace: 'ns-a' }],
      ['U4', { type: 'ns_subscribe', namespace: 'ns-a' }],
      ['U2', 'close'], // subscribers get ns_user_rm
      ['U3', 'terminate'], // was subscribed and registered; no close handshake
      ['U1', { type: 'ns_unsubscribe', namespace: 'ns-a' }],
      ['U4', { type: 'ns_unsubscribe', namespace: 'ns-a' }], // ns-a is empty now: deleted
      ['U4', { type: 'ns_unsubscribe', namespace: 'ns-a' }], // namespace does not exist
      ['U4', { type: 'ns_unsubscribe', namespace: 'ns-b' }],
      ['U4', { type: 'ns_unsubscribe', namespace: 'ns-b' }], // still registered: not subscribed
      ['U4', { type: 'ns_user_unregister', namespace: 'ns-b' }],
      ['U4', { type: 'ns_user_unregister', namespace: 'ns-b' }], // namespace does not exist
      ['U4', { type: 'ping' }],
    ],
  },
  {
    name: 'message validation',
    users: 2,
    steps: [
      ['U1', { type: 'status', status: 'happy' }], // Type mismatch
      ['U1', { type: 'status' }], // Missing element
      ['U1', { type: 'status', status: {}, extra: 1 }], // Unexpected field
      ['U1', { type: 'room_leave', extra: 1 }], // missing beats unexpected
      ['U1', { type: 'room_leave', room: null }], // null counts as missing
      ['U1', { type: 'room_leave', room: 7 }], // Type mismatch
      ['U1', { type: 'no_such_command' }], // Unknown command
      ['U1', { type: 'no_such_command', foo: 1 }],
      ['U1', { type: 'ping', extra: true }], // Unexpected field
      ['U1', { type: 'ns_subscribe', namespace: 5 }],
      ['U1', { type: 'ns_subscribe' }],
      ['U1', { type: 'ns_user_register', namespace: 'n', extra: 'x' }],
      ['U1', { type: 'room_join', room: 5 }],
      ['U1', { type: 'room_join', status: 'on' }],
      ['U1', { type: 'room_join', room: 'v-room', status: {}, extra: 1 }],
      ['U1', { type: 'room_peer_status', room: 'v-room' }],
      ['U1', { type: 'room_peer_status', room: 'v-room', status: 3 }],
      ['U1', { type: 'room_status', room: 'v-room', key: 'k', value: 1, check: 'yes' }],
      ['U1', { type: 'room_status', room: 'v-room', value: 1 }],
      ['U1', { type: 'room_status', room: 'v-room', key: 3, value: 1 }],
      ['U1', { type: 'room_peer_to', room: 'v-room', user: 'x', event: 'e', data: 'text' }],
      ['U1', { type: 'room_peer_to', room: 'v-room', user: 'x', data: {} }],
      ['U1', { type: 'invite_send', room: 'v-room', user: '@U2' }], // Missing element (data)
      ['U1', { type: 'invite_send', room: 'v-room', user: '@U2', data: 1 }],
      ['U1', { type: 'invite_accept', handle: '0', status: {} }],
      ['U1', { type: 'invite_accept', handle: 0 }],
      ['U1', { type: 'invite_deny' }],
      ['U1', { type: 'invite_cancel', handle: 0, extra: 0 }],
      ['U1', { type: 'ns_room_register', namespace: 'n' }],
      ['U1', { type: 'ns_room_unregister', namespace: 'n', room: 1 }],
      // Nothing above had an effect: the room does not exist.
      ['U2', { type: 'room_leave', room: 'v-room' }],
    ],
  },
  {
    name: 'rooms',
    users: 3,
    steps: [
      ['U1', { type: 'room_join', room: 'room-c', status: { role: 'host' } }],
      ['U1', { type: 'room_join', room: 'room-c', status: {} }], // already in room
      ['U2', { type: 'room_join', room: 'room-c' }], // no status: {}
      ['U2', { type: 'status', status: { mood: 'x', role: 'guest' } }], // room_peer_update
      ['U2', { type: 'room_peer_status', room: 'room-c', status: { cam: true, role: 'speaker' } }], // merged
      ['U2', { type: 'status', status: { mood: 'y' } }], // merged with the peer status
      ['U1', { type: 'room_status', room: 'room-c', key: 'topic', value: 'hi' }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'topic', value: 'x', check: true, previous: 'wrong' }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'topic', value: 'x', check: true }], // previous missing != 'hi'
      ['U2', { type: 'room_status', room: 'room-c', key: 'topic', value: 'bye', check: true, previous: 'hi' }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'fresh', value: 1, check: true }], // unset == no previous
      ['U1', { type: 'room_status', room: 'room-c', key: 'obj', value: { a: [1, 2], b: null } }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'obj', value: { a: [3] }, check: true, previous: { a: [1, 2], b: null } }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'flag', value: false, check: false, previous: 'ignored' }],
      ['U1', { type: 'room_status', room: 'room-c', key: 'gone', value: null }],
      ['U3', { type: 'room_status', room: 'room-c', key: 'k', value: 1 }], // not in the room
      ['U3', { type: 'room_status', room: 'room-none', key: 'k', value: 1 }], // room does not exist
      ['U3', { type: 'room_leave', room: 'room-c' }], // not in the room
      ['U3', { type: 'room_leave', room: 'room-none' }], // room does not exist
      ['U1', { type: 'room_peer_to', room: 'room-c', user: '@U2', event: 'offer', data: { sdp: 'v=0' } }],
      ['U2', { type: 'room_peer_to', room: 'room-c', user: '@U1', event: 'answer', data: { sdp: 'v=0', n: [1] } }],
      ['U1', { type: 'room_peer_to', room: 'room-c', user: '@U3', event: 'offer', data: {} }], // unknown recipient
      ['U1', { type: 'room_peer_to', room: 'room-c', user: 'nobody', event: 'offer', data: {} }],
      ['U3', { type: 'room_peer_to', room: 'room-c', user: '@U1', event: 'offer', data: {} }], // not in the room
      ['U1', { type: 'room_peer_to', room: 'room-none', user: '@U2', event: 'offer', data: {} }],
      ['U3', { type: 'room_peer_status', room: 'room-c', status: {} }], // not in the room
      ['U3', { type: 'room_peer_status', room: 'room-none', status: {} }],
      ['U3', { type: 'room_join' }], // a drawn room id, R1
      ['U1', { type: 'room_join', room: '@R1', status: { in: 'R1' } }],
      ['U3', { type: 'room_join', status: { second: true } }], // R2
      ['U3', { type: 'room_status', room: '@R1', key: 'k', value: 'v' }],
      ['U3', { type: 'room_leave', room: '@R2' }], // R2 is empty now (kept)
      ['U2', { type: 'room_leave', room: 'room-c' }], // U1 gets room_peer_rm
      ['U2', { type: 'room_leave', room: 'room-c' }], // the room still exists: not in the room
      ['U1', { type: 'room_leave', room: 'room-c' }], // room-c is empty now, kept with its status
      ['U2', { type: 'room_join', room: 'room-c', status: { back: 1 } }], // sees the old room status
      ['U2', { type: 'room_join', room: '@R2' }], // R2 is kept too
      ['U1', 'close'], // U3 gets room_peer_rm in R1
      ['U3', { type: 'room_peer_to', room: '@R1', user: '@U1', event: 'x', data: {} }], // unknown recipient
      ['U3', { type: 'ping' }],
    ],
  },
  {
    name: 'invitations',
    users: 4,
    steps: [
      ['U1', { type: 'room_join', room: 'room-d', status: { role: 'caller' } }],
      ['U1', { type: 'invite_send', room: 'room-d', user: '@U2', data: { video: true } }], // handle 0 / 0
      ['U1', { type: 'invite_send', room: 'room-d', user: 'nobody', data: {} }], // unknown recipient
      ['U2', { type: 'room_peer_to', room: 'room-d', user: '@U1', event: 'e', data: {} }], // only invited
      ['U2', { type: 'room_leave', room: 'room-d' }], // only invited
      ['U2', { type: 'room_status', room: 'room-d', key: 'k', value: 1 }], // only invited
      ['U2', { type: 'room_peer_status', room: 'room-d', status: {} }], // only invited
      ['U2', { type: 'room_join', room: 'room-d', status: {} }], // already in room (as invitee)
      ['U1', { type: 'room_peer_to', room: 'room-d', user: '@U2', event: 'e', data: {} }], // recipient is pending
      ['U1', { type: 'room_status', room: 'room-d', key: 'k', value: 'pending peers hear it' }],
      ['U2', { type: 'invite_accept', handle: 5, status: {} }], // invalid handle
      ['U2', { type: 'invite_deny', handle: 1 }], // invalid handle
      ['U1', { type: 'invite_accept', handle: 0, status: {} }], // the sender cannot accept
      ['U2', { type: 'invite_cancel', handle: 0 }], // the invitee cannot cancel
      ['U2', { type: 'status', status: { name: 'two' } }], // a pending peer's status reaches the room
      ['U2', { type: 'invite_accept', handle: 0, status: { answer: 'yes' } }],
      ['U2', { type: 'invite_accept', handle: 0, status: {} }], // no longer valid
      ['U1', { type: 'invite_cancel', handle: 0 }], // no longer valid
      ['U2', { type: 'room_peer_to', room: 'room-d', user: '@U1', event: 'hello', data: { ok: 1 } }],
      ['U1', { type: 'invite_send', room: 'room-d', user: '@U3', data: {} }], // handle 1 / 0
      ['U3', { type: 'invite_deny', handle: 0 }], // room peers get room_peer_rm
      ['U3', { type: 'invite_deny', handle: 0 }], // no longer valid
      ['U2', { type: 'invite_send', room: 'room-d2', user: '@U3', data: { n: 2 } }], // creates room-d2; handle 1 / 1
      ['U2', { type: 'invite_cancel', handle: 1 }], // U3 gets invite_cancelled
      ['U3', { type: 'invite_accept', handle: 1, status: {} }], // no longer valid
      ['U3', { type: 'room_join', room: 'room-d2' }], // the room was created and is kept
      ['U1', { type: 'invite_send', room: 'room-d', user: '@U4', data: {} }], // handle 2 / 0
      ['U4', 'close'], // its incoming invitation is denied
      ['U1', { type: 'invite_send', room: 'room-d', user: '@U3', data: { again: true } }], // handle 3 / 2
      ['U3', { type: 'invite_send', room: 'room-d2', user: '@U1', data: {} }], // handle 3 / 4
      ['U1', 'close'], // cancels handle 3 (to U3), denies handle 4 (from U3), leaves room-d
      ['U2', { type: 'invite_send', room: 'room-d', user: '@U1', data: {} }], // unknown recipient
      ['U2', { type: 'room_leave', room: 'room-d' }],
      ['U3', { type: 'room_leave', room: 'room-d2' }],
    ],
  },
  {
    name: 'namespace rooms',
    users: 4,
    steps: [
      ['U1', { type: 'ns_subscribe', namespace: 'ns-e' }],
      ['U2', { type: 'status', status: { who: 'two' } }],
      ['U2', { type: 'room_join', room: 'room-e', status: { s: 1 } }],
      ['U2', { type: 'ns_room_register', namespace: 'ns-e', room: 'room-e' }], // ns_room_add
      ['U2', { type: 'ns_room_register', namespace: 'ns-e', room: 'room-e' }], // already registered
      ['U2', { type: 'ns_room_register', namespace: 'ns-e', room: 'room-none' }], // room does not exist
      ['U3', { type: 'ns_subscribe', namespace: 'ns-e' }], // the answer lists room-e
      ['U2', { type: 'room_status', room: 'room-e', key: 'k', value: 'v' }], // (c) ns_room_update
      ['U2', { type: 'status', status: { who: 'two', away: true } }], // ns_room_peer_update
      ['U2', { type: 'room_peer_status', room: 'room-e', status: { s: 2 } }], // ns_room_peer_update
      ['U2', { type: 'invite_send', room: 'room-e', user: '@U3', data: {} }], // ns_room_peer_add pending
      ['U3', { type: 'invite_accept', handle: 0, status: { hi: 1 } }], // ns_room_peer_update x2
      ['U1', { type: 'room_join', room: 'room-e', status: { joined: 'directly' } }], // ns_room_peer_add
      ['U1', { type: 'room_leave', room: 'room-e' }], // (c) ns_room_peer_rm
      ['U4', { type: 'ns_room_register', namespace: 'ns-e', room: 'room-e' }], // already registered (U4 is no member)
      ['U4', { type: 'ns_room_unregister', namespace: 'ns-e', room: 'room-e' }], // a non-member may: ns_room_rm
      ['U3', { type: 'ns_room_unregister', namespace: 'ns-e', room: 'room-e' }], // not registered
      ['U3', { type: 'ns_room_unregister', namespace: 'ns-none', room: 'room-e' }], // namespace does not exist
      ['U3', { type: 'ns_room_unregister', namespace: 'ns-e', room: 'room-none' }], // room does not exist
      ['U2', { type: 'ns_room_register', namespace: 'ns-e', room: 'room-e' }], // ns_room_add with U2, U3
      ['U2', { type: 'ns_room_register', namespace: 'ns-f', room: 'room-e' }], // a second namespace, unwatched
      ['U4', { type: 'ns_subscribe', namespace: 'ns-f' }],
      ['U2', { type: 'invite_send', room: 'room-e', user: '@U1', data: { n: 1 } }],
      ['U1', { type: 'invite_deny', handle: 0 }], // (c) ns_room_peer_rm
      ['U2', { type: 'invite_send', room: 'room-e', user: '@U4', data: {} }],
      ['U2', { type: 'invite_cancel', handle: 2 }], // (c) ns_room_peer_rm
      ['U2', { type: 'invite_send', room: 'room-e', user: '@U1', data: {} }], // handle 3 / 1
      ['U3', 'close'], // room_peer_rm, ns_room_peer_rm in both namespaces; unsubscribed
      ['U1', { type: 'invite_deny', handle: 1 }], // U2 is alone in room-e now
      ['U2', 'close'], // room-e empty: ns_room_rm, and the original still sends ns_room_peer_rm after it
      ['U1', { type: 'ns_unsubscribe', namespace: 'ns-e' }],
      ['U1', { type: 'ns_subscribe', namespace: 'ns-e' }], // a new, empty namespace
      ['U4', { type: 'ns_unsubscribe', namespace: 'ns-f' }],
      ['U4', { type: 'ns_subscribe', namespace: 'ns-f' }],
    ],
  },
];

// ---------------------------------------------------------------------------
// Normalisation and comparison.

const SEED_TWINS = {
  ns_room_user_add: 'ns_room_peer_add',
  ns_room_user_rm: 'ns_room_peer_rm',
  ns_room_user_update: 'ns_room_peer_update',
  user_update: 'ns_user_update',
};
const ORIGINAL_TWINS = Object.fromEntries(Object.entries(SEED_TWINS).map(([seed, orig]) => [orig, seed]));

/** Extra switchboard events allowed by (c): step kinds and exact field sets. */
const ALLOWED_EXTRAS = {
  ns_room_update: { steps: ['room_status'], fields: ['namespace', 'room', 'status', 'type'] },
  ns_room_peer_rm: { steps: ['room_leave', 'invite_deny', 'invite_cancel', 'close'], fields: ['namespace', 'room', 'type', 'user'] },
};

/**
 * Normalises what one user received in one step. `profile` is 'original' or
 * 'switchboard'; for switchboard the seed-named twins (a) are checked and
 * dropped. Returns a sorted list of canonical JSON texts.
 */
function normaliseStep(messages, step, names, profile, where) {
  let out = messages.map((m) => {
    let msg = renameIds(m, names);
    if (msg?.type === 'hello') {
      // (e)
      assert.equal(typeof msg.server, 'string', `${where}: hello.server`);
      const { server: _server, ...rest } = msg;
      msg = rest;
    }
    if (msg?.type === 'answer' && step.kind === 'status' && step.request && msg.tid === step.request.tid) {
      // (b)
      const { data: _data, ...rest } = msg;
      msg = rest;
    }
    return msg;
  });

  if (profile === 'switchboard') {
    // (a) every seed-named event pairs with exactly one original-named twin, and back.
    const seedNamed = out.filter((m) => m?.type in SEED_TWINS);
    const origNamed = out.filter((m) => m?.type in ORIGINAL_TWINS);
    const twinsLeft = origNamed.map((m) => canonical(m));
    for (const m of seedNamed) {
      const twin = canonical({ ...m, type: SEED_TWINS[m.type] });
      const i = twinsLeft.indexOf(twin);
      assert.ok(i >= 0, `${where}: seed-named ${canonical(m)} has no ${SEED_TWINS[m.type]} twin in ${JSON.stringify(out)}`);
      twinsLeft.splice(i, 1);
    }
    assert.deepEqual(twinsLeft, [], `${where}: original-named events without their seed-named twin`);
    out = out.filter((m) => !(m?.type in SEED_TWINS));
  }
  return out.map(canonical).sort();
}

/** Compares one step of a run of the original (`a`) with one of `b` (original or switchboard). */
function compareStep(stepA, namesA, stepB, namesB, profileB, where) {
  assert.equal(stepB.label, stepA.label);
  if (stepA.requestError || stepB.requestError) {
    assert.fail(`${where}: no answer (original: ${stepA.requestError ?? 'ok'}, ${profileB}: ${stepB.requestError ?? 'ok'})`);
  }
  for (let k = 0; k < stepA.byUser.length; k++) {
    const whereK = `${where}, U${k + 1}`;
    const a = normaliseStep(stepA.byUser[k], stepA, namesA, 'original', `${whereK} (original)`);
    const b = normaliseStep(stepB.byUser[k], stepB, namesB, profileB, `${whereK} (${profileB})`);
    if (profileB === 'original') {
      assert.deepEqual(b, a, `${whereK}: the two runs differ`);
      continue;
    }
    // (c) one way: everything of the original, plus only the allowed extras.
    const extras = [...b];
    const missing = [];
    for (const m of a) {
      const i = extras.indexOf(m);
      if (i >= 0) extras.splice(i, 1);
      else missing.push(m);
    }
    const unexplained = extras.filter((text) => {
      const m = JSON.parse(text);
      const rule = ALLOWED_EXTRAS[m.type];
      return !(rule && rule.steps.includes(stepB.kind) && canonical(Object.keys(m).sort()) === canonical(rule.fields));
    });
    assert.deepEqual(
      { missing, unexplained },
      { missing: [], unexplained: [] },
      `${whereK}: switchboard differs from the original.\n  original:    ${a.join('\n               ')}\n  switchboard: ${b.join('\n               ')}`,
    );
  }
}

function compareRuns(runA, runB, profileB) {
  assert.equal(runB.steps.length, runA.steps.length);
  for (let s = 0; s < runA.steps.length; s++) {
    compareStep(runA.steps[s], runA.names, runB.steps[s], runB.names, profileB, runA.steps[s].label);
  }
}

// ---------------------------------------------------------------------------
// The tests.

describe('calling differential: harness check, original against original', () => {
  for (const script of SCRIPTS) {
    test(script.name, async () => {
      const a = await runScript(startOriginal, script);
      const b = await runScript(startOriginal, script);
      compareRuns(a, b, 'original');
    });
  }
});

describe('calling differential: switchboard against the original', () => {
  for (const script of SCRIPTS) {
    test(script.name, async () => {
      const a = await runScript(startOriginal, script);
      const b = await runScript(() => startSwitchboard(), script);
      compareRuns(a, b, 'switchboard');
    });
  }
});

describe('the request types and error strings the scripts cover', () => {
  test('every request type and error string appears in the original runs', async () => {
    const types = new Set();
    const errors = new Set();
    let closes = 0;
    for (const script of SCRIPTS) {
      const run = await runScript(startOriginal, script);
      for (const step of run.steps) {
        if (step.kind === 'close') closes += 1;
        if (step.request) {
          types.add(step.request.type);
          if (step.request.type === 'room_join') types.add(step.request.room === undefined ? 'room_join without room' : 'room_join with room');
          if (step.request.type === 'room_join' && step.request.status !== undefined) types.add('room_join with status');
          if (step.request.type === 'room_status' && step.request.check === true) types.add('room_status with check');
        }
        for (const messages of step.byUser) for (const m of messages) if (m.type === 'answer' && m.error) errors.add(m.error);
      }
    }
    for (const t of [
      'status', 'ns_subscribe', 'ns_unsubscribe', 'ns_user_register', 'ns_user_unregister', 'ns_room_register',
      'ns_room_unregister', 'room_join without room', 'room_join with room', 'room_join with status', 'room_leave',
      'room_status', 'room_status with check', 'room_peer_status', 'room_peer_to', 'invite_send', 'invite_accept',
      'invite_deny', 'invite_cancel', 'ping',
    ]) {
      assert.ok(types.has(t), `no script sends ${t}`);
    }
    for (const e of [
      'Type mismatch in message', 'Missing element in message', 'Unexpected field in message', 'Unknown command',
      'You are not in the room', 'You are only invited to the room', 'User is already in room', 'Unknown recipient',
      'Recipient is pending', 'Status not in expected state', 'Room does not exist', 'Namespace does not exist',
      'Invalid invitation handle', 'User was already subscribed to that namespace',
      'User was already registered to that namespace', 'User was not subscribed to namespace',
      'User was not registered to namespace', 'Room was already registered to that namespace',
      'Room was not registered to namespace',
    ]) {
      assert.ok(errors.has(e), `no script provokes "${e}"`);
    }
    assert.ok(closes >= 3);
  });
});

// ---------------------------------------------------------------------------
// (d) Behaviours that differ on purpose, each server checked on its own.

/** Two clients in one room, so a status change is visible to the other. */
async function twoInARoom(url) {
  const a = await connect(url);
  const b = await connect(url);
  assert.equal((await a.request({ type: 'room_join', room: 'd-room' })).error, undefined);
  assert.equal((await b.request({ type: 'room_join', room: 'd-room' })).error, undefined);
  await a.nextOfType('room_peer_add');
  return [a, b];
}

describe('requests without tid and malformed JSON', () => {
  test('switchboard carries out a request without tid silently', async () => {
    const server = await startSwitchboard();
    try {
      const [a, b] = await twoInARoom(server.url);
      a.send({ type: 'status', status: { silent: true } });
      const update = await b.nextOfType('room_peer_update');
      assert.deepEqual(update, { type: 'room_peer_update', room: 'd-room', user: a.id, status: { silent: true } });
      a.send({ type: 'ping' });
      assert.deepEqual(await a.request({ type: 'ping', tid: 42 }), { type: 'answer', tid: 42 });
      assert.deepEqual(a.drain(), [], 'no answer and no error for requests without tid');
      await Promise.all([a.close(), b.close()]);
    } finally {
      await server.stop();
    }
  });

  test('switchboard answers malformed JSON with an error and keeps the socket open', async () => {
    const server = await startSwitchboard();
    try {
      const a = await connect(server.url);
      a.sendRaw('{"type": "ping", "tid": 1');
      const error = await a.next();
      assert.equal(error.type, 'error');
      assert.equal(typeof error.error, 'string');
      assert.ok(error.error.length > 0);
      assert.deepEqual(await a.request({ type: 'ping', tid: 2 }), { type: 'answer', tid: 2 });
      assert.ok(a.isOpen);
      await a.close();
    } finally {
      await server.stop();
    }
  });

  test('the original answers a request without tid with "Missing tid in message" and does not carry it out', async () => {
    const server = await startOriginal();
    try {
      const [a, b] = await twoInARoom(server.url);
      a.send({ type: 'status', status: { silent: true } });
      assert.deepEqual(await a.next(), { type: 'error', error: 'Missing tid in message' });
      await b.request({ type: 'ping' });
      assert.deepEqual(b.drain(), []);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await server.stop();
    }
  });

  test('the original answers malformed JSON with an empty error, then goes mute but still obeys', async () => {
    // websocket_channel.js reports the parse error as an Error object, which
    // JSON.stringify turns into {}. Its close() passes a callback where ws 7
    // expects a close code, throws (swallowed) after setting CLOSING: no close
    // frame is sent, nothing is sent any more, but requests are still
    // carried out, until the heartbeat terminates the socket (about 55 s).
    // (That it stops answering is not asserted: proving silence would need a
    // timer; the request below shows it still obeys.)
    const server = await startOriginal();
    try {
      const [a, b] = await twoInARoom(server.url);
      a.sendRaw('{"type": "ping", "tid": 1');
      assert.deepEqual(await a.next(), { type: 'error', error: {} });
      a.send({ type: 'status', tid: 3, status: { mute: true } });
      assert.deepEqual(await b.nextOfType('room_peer_update'), { type: 'room_peer_update', room: 'd-room', user: a.id, status: { mute: true } });
      assert.ok(a.isOpen, 'the socket is not closed');
      assert.deepEqual(a.drain(), []);
      await Promise.all([a.terminate(), b.close()]);
    } finally {
      await server.stop();
    }
  });
});
