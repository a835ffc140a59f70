// A draining switchboard (README "Readiness and drain") as cloudkibo's real
// socket.io clients see it: after SIGTERM, /readyz answers 503, a new
// socket.io session is refused, a new call gets cloudkibo's calleeisbusy,
// and the call in progress still relays both ways until it hangs up; then
// every socket is disconnected and the process exits 0, long before its
// ten-minute --drain-timeout.
//
// Every step waits for the event it expects; timeouts are failure bounds.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startSwitchboard } from './support/servers.mjs';
import {
  SioPool,
  STEP_TIMEOUT_MS,
  callMsg,
  callThisPerson,
  connectSio,
  joinGlobalChatroom,
  unique,
  waitFor,
} from './support/socketio.mjs';

/** `from` sends `{to, msg}`; `to` must get `msg` as it was sent. */
async function relay(from, to, toPhone, msg) {
  from.emit('message', { to: toPhone, msg });
  assert.deepEqual(await to.expect('message', { also: [from] }), msg, `${to.label}: relayed message`);
}

/** Asks /readyz until it answers 503, one real request per step. */
async function untilNotReady(addr) {
  for (let n = 0; n < 10_000; n++) {
    const { status } = await fetch(`http://${addr}/readyz`);
    if (status === 503) return;
    assert.equal(status, 200, '/readyz answers 200 until it drains');
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail('/readyz never went 503');
}

const VARIANTS = [
  { client: 'v4', transport: 'websocket', label: 'socket.io-client 4.x over websocket' },
  { client: 'v2', transport: 'polling', label: 'socket.io-client 2.x over polling' },
];

for (const variant of VARIANTS) {
  describe(`drain, cloudkibo with ${variant.label}`, () => {
    test('SIGTERM: readyz 503, new sessions and calls refused, the call in progress goes on, then exit 0', async (t) => {
      const server = await startSwitchboard(['--drain-timeout', '10m']);
      t.after(() => server.stop());
      const p = new SioPool(server.addr, variant);
      t.after(() => p.closeAll());
      const [pa, pb, pc, pd] = ['a', 'b', 'c', 'd'].map((x) => unique(`+1555${x}`));
      const [a, b, c, d] = await Promise.all(['caller', 'callee', 'idle caller', 'idle callee'].map((l) => p.connect(l)));
      for (const [sio, phone] of [[a, pa], [b, pb], [c, pc], [d, pd]]) await joinGlobalChatroom(sio, phone);
      await callThisPerson(a, pa, pb);
      await b.expect('areyoufreeforcall');
      await relay(b, a, pa, callMsg(pa, pb, 'calleeisavailable'));
      await relay(b, a, pa, callMsg(pa, pb, 'callaccepted'));

      server.signal('SIGTERM');
      await untilNotReady(server.addr);
      assert.equal((await fetch(`http://${server.addr}/healthz`)).status, 200, 'liveness is not readiness');

      await assert.rejects(
        connectSio(server.addr, { client: variant.client, transport: variant.transport, label: 'late' }),
        /could not connect/,
      );
      await callThisPerson(c, pc, pd);
      assert.deepEqual(await c.expect('message'), callMsg(pc, pd, 'calleeisbusy'));

      await relay(a, b, pb, { callerphone: pa, calleephone: pb, type: 'room_name', room_name: unique('room') });
      await relay(b, a, pa, { ...callMsg(pa, pb, 'calleeisavailable'), device: 'android' });
      a.emit('message', { to: pb, msg: callMsg(pa, pb, 'callended') });
      assert.deepEqual(await b.expect('message'), { ...callMsg(pa, pb, 'callended'), reason: 'hangup' });

      await waitFor([a, b, c, d], () => [a, b, c, d].every((sio) => sio.disconnected), {
        what: 'every socket disconnected',
        timeout: STEP_TIMEOUT_MS,
      });
      // The disconnect packet, or the connection's end when the process
      // exits before the packet has gone out (or, over polling, before the
      // client has fetched it).
      const reasons = ['io server disconnect', 'transport close', 'transport error'];
      for (const sio of [a, b, c, d]) assert.ok(reasons.includes(sio.disconnectReason), `${sio.label}: ${sio.disconnectReason}`);
      const exit = await server.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
    });
  });
}
