// Load: 200 socket.io clients (spread over every client version and
// transport the flow tests run) each exchange 50 acked events with one
// switchboard, all in flight at once, and none is lost.
//
// The acked event is cloudkibo's `callthisperson` to a phone that is not
// online: the server acks `{status: "ok", calleephone}` and then sends
// `message` calleeoffline, touching no other client and keeping no state.
// Every client must get exactly its 50 acks and its 50 messages, each
// matching the call it made: 10,000 of each.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import { startSwitchboard } from './support/servers.mjs';
import { VARIANTS, calleeOffline, connectSio, joinGlobalChatroom, unique } from './support/socketio.mjs';

const CLIENTS = 200;
const EVENTS_PER_CLIENT = 50;
/** A failure bound for the whole exchange (it takes a few seconds). */
const LOAD_TIMEOUT_MS = 120_000;

describe('socket.io load', () => {
  let server;
  const clients = [];
  before(async () => {
    server = await startSwitchboard();
  });
  after(async () => {
    for (const sio of clients) sio.close();
    await server?.stop();
  });

  test(`${CLIENTS} clients each exchange ${EVENTS_PER_CLIENT} acked events, and none is lost`, { timeout: LOAD_TIMEOUT_MS }, async (t) => {
    const variants = VARIANTS.filter((v) => !v.skip);
    const connecting = await Promise.allSettled(Array.from({ length: CLIENTS }, (_, i) => {
      const variant = variants[i % variants.length];
      return connectSio(server.addr, {
        client: variant.client,
        transport: variant.transport,
        label: `load client ${i} (${variant.label})`,
        timeout: 30_000,
      });
    }));
    clients.push(...connecting.filter((r) => r.status === 'fulfilled').map((r) => r.value));
    const refused = connecting.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    assert.deepEqual(refused.slice(0, 10), [], `${refused.length} of ${CLIENTS} clients could not connect`);
    const phones = clients.map((_, i) => unique(`+1666${i}`));
    await Promise.all(clients.map((sio, i) => joinGlobalChatroom(sio, phones[i])));

    // Each ack and each message has this long once everything is sent; a
    // lost one fails the test with the count of what arrived.
    const stepTimeout = 30_000;
    const started = Date.now();
    const results = await Promise.allSettled(clients.map(async (sio, i) => {
      const callerphone = phones[i];
      const callees = Array.from({ length: EVENTS_PER_CLIENT }, (_, j) => `${callerphone}-offline-${j}`);
      // All 50 in flight at once.
      const ackResults = await Promise.allSettled(callees.map((calleephone) => sio.request(
        'callthisperson',
        { room: 'globalchatroom', callerphone, calleephone },
        { timeout: stepTimeout },
      )));
      let acks = 0;
      const problems = [];
      ackResults.forEach((result, j) => {
        if (result.status === 'rejected') {
          problems.push(result.reason.message);
        } else if (!isDeepStrictEqual(result.value.args, [{ status: 'ok', calleephone: callees[j] }])) {
          problems.push(`ack ${j} is ${JSON.stringify(result.value.args)}`);
        } else {
          acks += 1;
        }
      });
      const seen = new Set();
      let messages = 0;
      while (seen.size < EVENTS_PER_CLIENT) {
        let entry;
        try {
          entry = await sio.next({ timeout: stepTimeout });
        } catch (err) {
          problems.push(err.message);
          break;
        }
        const calleephone = entry.args[0]?.calleephone;
        if (entry.event !== 'message' || !callees.includes(calleephone) || seen.has(calleephone)
          || !isDeepStrictEqual(entry.args, [calleeOffline(callerphone, calleephone)])) {
          problems.push(`unexpected ${entry.event} ${JSON.stringify(entry.args)}`);
          continue;
        }
        seen.add(calleephone);
        messages += 1;
      }
      if (sio.pending().length > 0) problems.push(`events beyond the ${EVENTS_PER_CLIENT} messages: ${JSON.stringify(sio.pending())}`);
      return { acks, messages, problems: problems.map((text) => `${sio.label}: ${text}`) };
    }));
    const elapsed = Date.now() - started;
    const totals = { acks: 0, messages: 0, problems: [] };
    for (const result of results) {
      assert.equal(result.status, 'fulfilled', result.reason?.stack);
      totals.acks += result.value.acks;
      totals.messages += result.value.messages;
      totals.problems.push(...result.value.problems);
    }
    const expected = CLIENTS * EVENTS_PER_CLIENT;
    const summary = `${totals.acks} of ${expected} acks and ${totals.messages} of ${expected} messages arrived`;
    assert.deepEqual(totals.problems.slice(0, 20), [], `${summary}; ${totals.problems.length} problems, the first 20 listed`);
    assert.equal(totals.acks, expected, summary);
    assert.equal(totals.messages, expected, summary);
    t.diagnostic(`${summary}, for ${CLIENTS} clients (${variants.map((v) => v.label).join(', ')}), in ${elapsed} ms`);
  });
});
