// Limits on socket.io clients (README "Configuration": --session-queue and
// --max-frame-bytes), with socket.io-client 2.x (Engine.IO v3) and 4.x
// (Engine.IO v4), over WebSocket only and over HTTP long-polling only.
//
// - A client that stops reading while events keep coming for it is dropped,
//   and it is told: once it reads again it gets `disconnect`. The peer whose
//   events filled its queue is not punished.
// - An event larger than --max-frame-bytes (a 1 MB offer) is refused on
//   both transports: the sender is disconnected (polling: its POST is
//   refused; WebSocket: the connection is closed), the event is never
//   relayed, and the receiver stays. At the Engine.IO level, such a POST
//   answers 413 and ends the session.
//
// Waits are bounded by failure timeouts only; every step waits for an event
// or a condition re-checked when something arrives.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startSwitchboard } from './support/servers.mjs';
import { SioPool, VARIANTS, barrier, unique, waitFor } from './support/socketio.mjs';

/** socket.io-client 2.x and 4.x, each over WebSocket and over polling. */
const LIMIT_VARIANTS = VARIANTS.filter((variant) => variant.client !== 'v1');
/** The flooding peer: always socket.io-client 4.x over WebSocket (the victim is the subject). */
const FLOODER_VARIANT = VARIANTS.find((variant) => variant.client === 'v4' && variant.transport === 'websocket');

/**
 * The flood runs against the default --session-queue (256) and a small one:
 * with the default, socketioxide's buffer for the victim (256 packets) fills
 * first; with the small one, the core's queue for it usually does.
 */
const SESSION_QUEUES = [256, 64];
const MAX_FRAME_BYTES = 65_536;
/**
 * The flood goes in chunks, and the flooder waits for the server to handle
 * each before the next; a chunk stays below the smaller session queue, as
 * the flooder gets one `error` per relay once the victim is gone.
 */
const FLOOD_CHUNK = 50;
/** A failure bound: the victim must have been dropped before this many events. */
const FLOOD_LIMIT = 30_000;
/** Padding per candidate, so that the kernel's socket buffers (a few MB) fill within a few thousand events. */
const CANDIDATE_PADDING = 2_000;
/** How long a dropped client that reads again may take to see `disconnect`. */
const DISCONNECT_TIMEOUT_MS = 5_000;
/** Disconnect reasons that come from the client itself, not from the server. */
const CLIENT_SIDE_REASONS = ['ping timeout', 'io client disconnect', 'forced close'];

/** A room id as the original's landing page draws it (digits), unique here. */
function roomId() {
  return unique('room').replace(/\D/g, '').slice(-9);
}

/** An entry of a socket's record, shortened for a message (payloads may be a megabyte). */
function brief(entry) {
  const text = JSON.stringify(entry?.args ?? null);
  return `${entry?.kind ?? '?'} '${entry?.event}' ${text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text}`;
}

/**
 * POSTs `body` to `http://addr{path}` as text and resolves with the answer,
 * `{status, text}`, or `{status: null, error}` if the connection failed
 * first. The body goes in 16 KB writes, and no more is written once the
 * server has answered (it may answer before reading the whole body).
 */
function postBody(addr, path, body) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const data = Buffer.from(body);
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', 'content-length': data.length } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', (err) => {
      if (!answered) resolve({ status: null, error: err.code ?? err.message });
    });
    let offset = 0;
    const pump = () => {
      while (!answered && offset < data.length) {
        const more = req.write(data.subarray(offset, offset + 16_384));
        offset += 16_384;
        if (!more) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

/**
 * Two peers in a new tringtring room: `first` joins, then `second`, and
 * `first` hears of the arrival. Resolves once both are in.
 */
async function twoPeersInRoom(landing, first, second) {
  const id = roomId();
  const created = await landing.request('create-room', { room_id: id });
  assert.equal(created.args[0]?.status, true, `${landing.label}: create-room ${JSON.stringify(created.args)}`);
  await landing.expect('redirect');
  for (const sio of [first, second]) {
    const joined = await sio.request('join', { room_id: id, peer_name: sio.label });
    assert.equal(joined.args[0]?.room_id, id, `${sio.label}: join ack ${JSON.stringify(joined.args)}`);
  }
  await first.expectSet(['user-arrived', 'user-joined']);
  return id;
}

/**
 * Stops `sio` reading what the server sends, and resolves with
 * `{resume}` once it has stopped.
 *
 * WebSocket: the TCP socket under the `ws` WebSocket
 * (`socket.io.engine.transport.ws._socket`, the same path in
 * engine.io-client 3.x and 6.x) is paused, so the kernel's buffers fill and
 * then the server's. Polling: the transport's own `pause` (what an upgrade
 * uses) lets the long-poll in flight finish and sends no new one; `nudge`
 * makes the server answer that poll (it sends one event to `sio`).
 */
async function stopReading(sio, nudge) {
  const transport = sio.socket.io.engine.transport;
  if (transport.name === 'websocket') {
    const tcp = transport.ws?._socket;
    assert.ok(tcp && typeof tcp.pause === 'function', `${sio.label}: no TCP socket at socket.io.engine.transport.ws._socket`);
    tcp.pause();
    return { resume: () => tcp.resume() };
  }
  assert.equal(transport.name, 'polling', `${sio.label}: transport ${transport.name}`);
  const paused = new Promise((resolve) => transport.pause(resolve));
  nudge();
  await paused;
  assert.equal(transport.readyState, 'paused', `${sio.label}: the polling transport is paused`);
  return {
    resume() {
      // The reverse of pause(): open again, and poll (`_poll` in
      // engine.io-client 6.x, `poll` in 3.x).
      transport.readyState = 'open';
      (transport._poll ?? transport.poll).call(transport);
    },
  };
}

/**
 * `flooder` sends `ice-candidate`s to `victimId` in chunks of FLOOD_CHUNK,
 * each followed by a barrier (a cloudkibo event, answered with `error`), so
 * that it never has more than one chunk in flight, until it hears that the
 * victim left the room (`user-left`). Relays that find the victim's queue
 * without room are refused to the flooder ("too many messages"). Resolves
 * with the number sent.
 */
async function floodUntilDropped(flooder, victimId, sessionQueue) {
  const padding = 'x'.repeat(CANDIDATE_PADDING);
  let sent = 0;
  let dropped = false;
  while (!dropped) {
    assert.ok(sent < FLOOD_LIMIT, `the server did not drop the victim, which reads nothing, after ${sent} events of about ${CANDIDATE_PADDING} bytes (--session-queue ${sessionQueue})`);
    for (let i = 0; i < FLOOD_CHUNK; i++, sent++) {
      const candidate = { candidate: `candidate:${sent} 1 udp 2122260223 192.0.2.1 ${sent % 65_536} typ host`, sdpMid: '0', sdpMLineIndex: 0, padding };
      flooder.emit('ice-candidate', { from: flooder.id, to: victimId, candidate });
    }
    flooder.emit('init', { room: 'barrier', username: 'barrier' });
    for (;;) {
      const entry = await flooder.next();
      if (entry.event === 'user-left' && entry.args[0]?.peer_id === victimId) {
        dropped = true;
      } else if (entry.event === 'error' && /init/.test(entry.args[0]?.message ?? '')) {
        break;
      } else if (entry.event === 'error' && entry.args[0]?.message === 'too many messages; slow down') {
        // The victim's queue has no room for more relays: the flooder, not
        // the victim, is refused them.
      } else {
        // Relays to the victim once it has left are refused with `error`.
        assert.ok(dropped && entry.event === 'error', `${flooder.label}: unexpected ${brief(entry)} while flooding (${sent} sent)`);
      }
    }
  }
  return sent;
}

for (const sessionQueue of SESSION_QUEUES) {
  describe(`socket.io: a client that stops reading, --session-queue ${sessionQueue}`, () => {
    let server;
    before(async () => {
      // The reader is under test: the flooder gets no rate limit, which
      // would stop it long before the victim's buffers fill.
      server = await startSwitchboard(['--session-queue', String(sessionQueue), '--rate-limit', '0']);
    });
    after(() => server?.stop());

    for (const variant of LIMIT_VARIANTS) {
      test(`${variant.label}, --session-queue ${sessionQueue}: a client that stops reading while it is flooded is dropped and sees disconnect; the flooder stays`, async (t) => {
        const victims = new SioPool(server.addr, variant);
        const others = new SioPool(server.addr, FLOODER_VARIANT);
        t.after(() => {
          victims.closeAll();
          others.closeAll();
        });
        const landing = await others.connect('landing page');
        const flooder = await others.connect('flooder');
        const victim = await victims.connect('victim');
        await twoPeersInRoom(landing, flooder, victim);
        const victimId = victim.id;

        const reading = await stopReading(victim, () => {
          flooder.emit('ice-candidate', { from: flooder.id, to: victimId, candidate: { candidate: 'candidate:nudge 1 udp 1 192.0.2.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
        });
        const sent = await floodUntilDropped(flooder, victimId, sessionQueue);
        t.diagnostic(`the victim was dropped after ${sent} events`);
        assert.ok(!victim.disconnected, `${victim.label}: disconnected (${victim.disconnectReason}) while it read nothing`);

        const resumed = Date.now();
        reading.resume();
        await waitFor(victim, () => victim.disconnected, {
          timeout: DISCONNECT_TIMEOUT_MS,
          what: `${victim.label}: dropped by the server after ${sent} events, it reads again and must get disconnect`,
        });
        assert.ok(!CLIENT_SIDE_REASONS.includes(victim.disconnectReason), `${victim.label}: the disconnect (${victim.disconnectReason}) came from the client, not the server`);
        t.diagnostic(`the victim saw disconnect (${victim.disconnectReason}) ${Date.now() - resumed} ms after it read again, after ${victim.received.length} events`);

        // The flooder is still connected and served.
        assert.ok(!flooder.disconnected, `${flooder.label}: disconnected (${flooder.disconnectReason}), but it only sent within its bounds`);
        await barrier(flooder, 'tringtring');
      });
    }
  });
}

describe('socket.io: an event larger than --max-frame-bytes', () => {
  let server;
  before(async () => {
    server = await startSwitchboard(['--max-frame-bytes', String(MAX_FRAME_BYTES)]);
  });
  after(() => server?.stop());

  for (const variant of LIMIT_VARIANTS) {
    test(`${variant.label}: a 1 MB offer is refused and never relayed; the sender is disconnected, the receiver stays`, async (t) => {
      const p = new SioPool(server.addr, variant);
      t.after(() => p.closeAll());
      const landing = await p.connect('landing page');
      const receiver = await p.connect('receiver');
      const sender = await p.connect('sender');
      await twoPeersInRoom(landing, receiver, sender);
      const senderId = sender.id;

      const sdp = { type: 'offer', sdp: `v=0\r\n${'a=x-padding:'.padEnd(1 << 20, 'x')}\r\n` };
      sender.emit('offer', { from: { name: 'sender', id: senderId }, to: receiver.id, type: 'offer', sdp });
      const offers = () => receiver.received.filter((entry) => entry.event === 'offer');
      await waitFor([sender, receiver], () => sender.disconnected || offers().length > 0, {
        timeout: DISCONNECT_TIMEOUT_MS,
        what: `${sender.label}: after a ${sdp.sdp.length}-byte offer (--max-frame-bytes ${MAX_FRAME_BYTES}), disconnect, or the offer relayed`,
      });
      assert.deepEqual(offers().map(brief), [], `${receiver.label}: the offer larger than --max-frame-bytes was relayed`);
      assert.ok(sender.disconnected, `${sender.label}: still connected`);
      assert.ok(!CLIENT_SIDE_REASONS.includes(sender.disconnectReason), `${sender.label}: the disconnect (${sender.disconnectReason}) came from the client, not the server`);

      // The barrier: the sender's leaving reaches the receiver after
      // anything the server relayed from it, and nothing came before it.
      const next = await receiver.next();
      assert.ok(next.event === 'user-left' && next.args[0]?.peer_id === senderId, `${receiver.label}: expected user-left of the sender next, got ${brief(next)}`);
      assert.ok(!receiver.disconnected, `${receiver.label}: disconnected (${receiver.disconnectReason})`);
      await barrier(receiver, 'tringtring');
    });
  }

  for (const eio of [3, 4]) {
    test(`Engine.IO v${eio} polling: a POST larger than --max-frame-bytes answers 413 and ends the session`, async () => {
      const base = `/socket.io/?EIO=${eio}&transport=polling`;
      const open = await fetch(`http://${server.addr}${base}`);
      const opening = await open.text();
      assert.equal(open.status, 200, `handshake ${opening}`);
      const sid = /"sid":"([^"]+)"/.exec(opening)?.[1];
      assert.ok(sid, `handshake without a sid: ${opening}`);
      /** One Engine.IO payload of `packets`, framed for this protocol version. */
      const payload = (...packets) => (eio === 3 ? packets.map((packet) => `${packet.length}:${packet}`).join('') : packets.join('\x1e'));
      const path = `${base}&sid=${sid}`;
      if (eio === 4) {
        // Engine.IO v3 joins namespace `/` on its own; v4 asks (socket.io CONNECT).
        const connect = await postBody(server.addr, path, payload('40'));
        assert.equal(connect.status, 200, `CONNECT: ${JSON.stringify(connect)}`);
      }
      // Just over the limit: with a much larger body the server closes the
      // connection with request bytes unread, and the TCP reset that causes
      // can reach the client before the 413 does.
      const event = `42${JSON.stringify(['offer', { to: 'nobody', type: 'offer', sdp: 'x'.repeat(MAX_FRAME_BYTES + 4096) }])}`;
      const big = await postBody(server.addr, path, payload(event));
      assert.equal(big.status, 413, `a ${event.length}-byte POST (--max-frame-bytes ${MAX_FRAME_BYTES}): ${JSON.stringify(big)}`);
      const poll = await fetch(`http://${server.addr}${path}`);
      const polled = await poll.text();
      assert.equal(poll.status, 400, `a poll of the session after the refused POST answers ${poll.status} ${polled.slice(0, 200)}`);
    });
  }
});
