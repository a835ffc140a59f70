// Media across dialects (Step 13): the phone app (/call/, chatroulette) in
// Debian's chromium calls a user of the calling dialect, a second page that
// speaks calling as rtc-lib does (hello, invite_incoming, invite_accept,
// room_peer_to `signaling` and `ice_candidate`), with a fake camera and
// microphone on both. Both sides must receive audio and video.
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
