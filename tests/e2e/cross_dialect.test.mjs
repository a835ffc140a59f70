// Media across dialects (Step 13): the phone app (/call/, chatroulette) in
// Debian's chromium calls a user of another dialect, on a second page with
// a fake camera and microphone too, and both sides must receive audio and
// video. The second page speaks calling as rtc-lib does (hello,
// invite_incoming, invite_accept, room_peer_to `signaling` and
// `ice_candidate`), or cloudkibo as its Android client does over the
// socket.io client the server serves (areyoufreeforcall, callaccepted, the
// media room's room_name, init and msg), whose media room the server plays.
//
// Waits are for conditions; the timeouts are only failure bounds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, waitForMedia } from './support/browser.mjs';
import { startSwitchboard } from '../node/support/servers.mjs';

const WAIT = { timeout: 15_000 };

let browser;
let server;
let base;

before(async () => {
  [browser, server] = await Promise.all([launch(), startSwitchboard()]);
  base = `http://${server.addr}`;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Connects a page to /ws/calling and answers the first call that rings it
 * with media, the way an rtc-lib app does: accept the invitation, take the
 * caller's offer from `room_peer_from` `signaling`, answer, and trickle
 * candidates with `room_peer_to` `ice_candidate`. Resolves with the calling
 * user's id once `hello` has come; the call goes on in the page, whose
 * RTCPeerConnection is `window.switchboardCall`.
 */
async function callingUser(page) {
  // Any page of the server gives the script an http://127.0.0.1 origin, a
  // secure context for getUserMedia.
  await page.goto(`${base}/healthz`);
  return page.evaluate(async (url) => {
    const log = (window.callingLog = []);
    // Media first: the socket is opened once its handler can be set at
    // once, or `hello` would come before anyone listens.
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const ws = new WebSocket(url);
    const send = (frame) => {
      log.push(['out', frame.type, frame.event]);
      ws.send(JSON.stringify(frame));
    };
    const pc = new RTCPeerConnection();
    window.switchboardCall = pc;
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    let call = null;
    let tid = 10;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && call) send({ type: 'room_peer_to', tid: tid++, room: call.room, user: call.caller, event: 'ice_candidate', data: candidate.toJSON() });
    };
    return new Promise((resolve) => {
      ws.onmessage = async ({ data }) => {
        const frame = JSON.parse(data);
        log.push(['in', frame.type, frame.event]);
        if (frame.type === 'hello') resolve(frame.id);
        if (frame.type === 'invite_incoming' && !call) {
          call = { room: frame.room, caller: frame.sender };
          send({ type: 'invite_accept', tid: 1, handle: frame.handle, status: {} });
        }
        if (frame.type === 'room_peer_from' && frame.event === 'signaling' && frame.data.type === 'offer') {
          await pc.setRemoteDescription(frame.data);
          await pc.setLocalDescription(await pc.createAnswer());
          const { type, sdp } = pc.localDescription;
          send({ type: 'room_peer_to', tid: 2, room: call.room, user: call.caller, event: 'signaling', data: { type, sdp } });
        }
        if (frame.type === 'room_peer_from' && frame.event === 'ice_candidate') await pc.addIceCandidate(frame.data);
      };
    });
  }, `ws://${server.addr}/ws/calling`);
}

test('the phone app calls a calling user and both receive audio and video', async () => {
  const phone = await newPage(browser, { phone: true });
  const callee = await newPage(browser);
  try {
    const calleeId = await callingUser(callee);
    await phone.goto(`${base}/call/`);
    await phone.locator('#name').fill('alice');
    await phone.locator('#name').press('Enter');
    await phone.locator('#idle').waitFor(WAIT);
    await phone.locator('#callee').fill(calleeId);
    await phone.locator('#callee').press('Enter');
    await phone.locator('#call').waitFor(WAIT);

    const [atPhone, atCallee] = await Promise.all([waitForMedia(phone), waitForMedia(callee)]);
    console.log(`inbound-rtp bytesReceived: phone ${JSON.stringify(atPhone)}, calling user ${JSON.stringify(atCallee)}`);
    for (const inbound of [atPhone, atCallee]) {
      assert.ok(inbound.audio > 0, `audio bytes ${inbound.audio}`);
      assert.ok(inbound.video > 0, `video bytes ${inbound.video}`);
    }
    const log = await callee.evaluate(() => window.callingLog);
    assert.ok(log.some(([dir, type]) => dir === 'in' && type === 'invite_incoming'), JSON.stringify(log));
    assert.ok(!log.some(([dir, type]) => dir === 'in' && type === 'error'), JSON.stringify(log));

    // The phone hangs up: the calling side's room loses its peer.
    await phone.locator('#hangup').click();
    await callee.waitForFunction(() => window.callingLog.some(([dir, type]) => dir === 'in' && type === 'room_peer_rm'), null, WAIT);
  } finally {
    await Promise.all([phone.context().close(), callee.context().close()]);
  }
});

/**
 * Registers a page as cloudkibo phone `phone` over the socket.io client
 * the server serves, and answers the first call that rings it with media,
 * as CloudKibo's Android client does: `calleeisavailable`, `callaccepted`,
 * `init` of the room the `room_name` message names, then `msg` answers and
 * candidates to the member that offered (`by`). The call goes on in the
 * page, whose RTCPeerConnection is `window.switchboardCall`.
 */
async function cloudkiboPhone(page, phone) {
  await page.goto(`${base}/healthz`);
  await page.addScriptTag({ url: `${base}/socket.io/socket.io.js` });
  await page.evaluate(async ({ url, phone }) => {
    const log = (window.kiboLog = []);
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const pc = new RTCPeerConnection();
    window.switchboardCall = pc;
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    const socket = window.io(url, { transports: ['websocket'] });
    let me = null;
    let peer = null;
    const emit = (event, data) => {
      log.push(['out', event, data?.type ?? data?.msg?.status ?? data?.msg?.type]);
      socket.emit(event, data);
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || peer === null) return;
      const { sdpMid, sdpMLineIndex } = candidate;
      emit('msg', { to: peer, by: me, type: 'ice', ice: { type: 'candidate', candidate: candidate.candidate, sdpMid, sdpMLineIndex } });
    };
    for (const event of ['error', 'message', 'peer.connected', 'peer.disconnected']) {
      socket.on(event, (data) => log.push(['in', event, data?.status ?? data?.type ?? data?.message]));
    }
    socket.on('areyoufreeforcall', ({ callerphone }) => {
      const call = (status) => ({ to: callerphone, msg: { callerphone, calleephone: phone, type: 'call', status } });
      emit('message', call('calleeisavailable'));
      emit('message', call('callaccepted'));
    });
    socket.on('message', (message) => {
      if (message.type !== 'room_name') return;
      socket.emit('init', { room: message.room_name, username: phone }, (_room, id) => {
        me = id;
      });
    });
    socket.on('msg', async (msg) => {
      if (msg.type === 'offer') {
        peer = msg.by;
        await pc.setRemoteDescription(msg.sdp);
        await pc.setLocalDescription(await pc.createAnswer());
        const { type, sdp } = pc.localDescription;
        emit('msg', { to: peer, by: me, type: 'answer', sdp: { type, sdp } });
      }
      if (msg.type === 'ice') await pc.addIceCandidate(msg.ice);
    });
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.emit('join global chatroom', { room: 'globalchatroom', user: { phone, _id: phone } });
    await new Promise((resolve) => socket.once('youareonline', resolve));
  }, { url: base, phone });
}

test('the phone app calls a cloudkibo phone and both receive audio and video through the media room the server plays', async () => {
  const caller = await newPage(browser, { phone: true });
  const kibo = await newPage(browser);
  try {
    await cloudkiboPhone(kibo, '+15550100');
    await caller.goto(`${base}/call/`);
    await caller.locator('#name').fill('carol');
    await caller.locator('#name').press('Enter');
    await caller.locator('#idle').waitFor(WAIT);
    await caller.locator('#callee').fill('+15550100');
    await caller.locator('#callee').press('Enter');
    await caller.locator('#call').waitFor(WAIT);

    const [atCaller, atKibo] = await Promise.all([waitForMedia(caller), waitForMedia(kibo)]);
    console.log(`inbound-rtp bytesReceived: phone app ${JSON.stringify(atCaller)}, cloudkibo page ${JSON.stringify(atKibo)}`);
    for (const inbound of [atCaller, atKibo]) {
      assert.ok(inbound.audio > 0, `audio bytes ${inbound.audio}`);
      assert.ok(inbound.video > 0, `video bytes ${inbound.video}`);
    }
    const log = await kibo.evaluate(() => window.kiboLog);
    assert.ok(!log.some(([dir, event]) => dir === 'in' && event === 'error'), JSON.stringify(log));

    // The phone app hangs up: the phone hears its call ended.
    await caller.locator('#hangup').click();
    await kibo.waitForFunction(() => window.kiboLog.some(([dir, event, status]) => dir === 'in' && event === 'message' && status === 'callended'), null, WAIT);
  } finally {
    await Promise.all([caller.context().close(), kibo.context().close()]);
  }
});
