// /metrics after scripted cloudkibo calls, played by the real
// socket.io-client 4.x over WebSocket: calls counted by dialect pair and
// outcome (answered, busy, rejected, timeout), sessions by dialect and
// transport, and samples in the call histograms. (The WebSocket dialects'
// counts are checked in crates/server/tests/metrics_calls.rs.)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { startSwitchboard } from './support/servers.mjs';
import { SioPool, VARIANTS, callMsg, callThisPerson, joinGlobalChatroom, unique } from './support/socketio.mjs';

const variant = VARIANTS.find((v) => v.client === 'v4' && v.transport === 'websocket');

/** Prometheus text as samples `{name, labels, value}` (comments skipped). */
function samples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value;
    }
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** The sum of `name` over the samples whose labels include `labels`. */
function sum(all, name, labels = {}) {
  return all
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

let server;
before(async () => {
  server = await startSwitchboard(['--ring-timeout', '1s']);
});
after(() => server?.stop());

test('cloudkibo calls of every outcome are counted, and the histograms have samples', async (t) => {
  const p = new SioPool(server.addr, variant);
  t.after(() => p.closeAll());
  const [pa, pb, pc] = [unique('+1555a'), unique('+1555b'), unique('+1555c')];
  const a = await p.connect('a');
  const b = await p.connect('b');
  const c = await p.connect('c');
  for (const [sio, phone] of [[a, pa], [b, pb], [c, pc]]) await joinGlobalChatroom(sio, phone);

  /** `from` answers the call with `msg`, sent to phone `to`. */
  const relay = (from, to, msg) => from.emit('message', { to, msg });
  // Answered: a calls b, who accepts.
  await callThisPerson(a, pa, pb);
  await b.expect('areyoufreeforcall');
  await relay(b, pa, callMsg(pa, pb, 'calleeisavailable'));
  await a.expect('message');
  await relay(b, pa, callMsg(pa, pb, 'callaccepted'));
  await a.expect('message');
  // Busy: c calls b, who is in the call; the server answers calleeisbusy.
  await callThisPerson(c, pc, pb);
  assert.deepEqual(await c.expect('message'), callMsg(pc, pb, 'calleeisbusy'));
  // Rejected: c calls a's phone after a's call ends.
  a.emit('message', { to: pb, msg: callMsg(pa, pb, 'callended') });
  assert.equal((await b.expect('message')).reason, 'hangup');
  await callThisPerson(c, pc, pa);
  await a.expect('areyoufreeforcall');
  await relay(a, pc, callMsg(pc, pa, 'callrejected'));
  await c.expect('message');
  // Timeout: c calls b, nobody answers within the ring timeout (1 s).
  await callThisPerson(c, pc, pb);
  await b.expect('areyoufreeforcall');
  assert.deepEqual(await c.expect('message', { timeout: 10_000 }), callMsg(pc, pb, 'noanswer'));

  const all = samples(await (await fetch(`http://${server.addr}/metrics`)).text());
  const kibo = { caller: 'cloudkibo', callee: 'cloudkibo' };
  for (const outcome of ['answered', 'busy', 'rejected', 'timeout']) {
    assert.equal(sum(all, 'switchboard_calls_total', { ...kibo, outcome }), 1, `${outcome} calls`);
  }
  assert.equal(sum(all, 'switchboard_sessions', { dialect: 'cloudkibo', transport: 'socket.io' }), 3);
  assert.equal(sum(all, 'switchboard_call_setup_seconds_count'), 1, 'one answer timed');
  assert.equal(sum(all, 'switchboard_ring_duration_seconds_count'), 4, 'every ringing end timed');
  assert.equal(sum(all, 'switchboard_call_duration_seconds_count'), 1, 'the answered call ended');
});
