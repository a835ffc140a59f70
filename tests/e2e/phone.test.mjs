// The phone app (/call/) in Debian's chromium with a fake camera and
// microphone, over the chatroulette dialect of a real switchboard: the
// screens of seed 002 (entry, idle, calling, incoming, call) and the video
// switch of seed 000 (the caller switches video while ringing and in the
// call, and the callee is told).
//
// Waits are for conditions (locators, page.waitForFunction); the timeouts
// are only failure bounds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launch, newPage, waitForMedia } from './support/browser.mjs';
import { startSwitchboard, repoRoot } from '../node/support/servers.mjs';

const ARTIFACTS = path.join(repoRoot, 'tests/e2e/artifacts');
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

/** A page on /call/ connected as `name` (typed, and Enter pressed). */
async function phone(name, { phone = false, at = base } = {}) {
  const page = await newPage(browser, { phone });
  await page.goto(`${at}/call/`);
  await connectAs(page, name);
  await page.locator('#idle').waitFor(WAIT);
  assert.equal(await page.locator('#me').textContent(), name);
  return page;
}

async function connectAs(page, name) {
  await page.locator('#name').fill(name);
  await page.locator('#name').press('Enter');
}

/**
 * Types `callee` in the idle screen and presses Enter; waits for the
 * calling screen unless the answer (busy, unknown) may already have left it.
 */
async function dial(page, callee, { ringing = true } = {}) {
  await page.locator('#callee').fill(callee);
  await page.locator('#callee').press('Enter');
  if (ringing) await page.locator('#calling').waitFor(WAIT);
}

/** Waits for the incoming call screen and accepts with Enter on the focused Accept button. */
async function answer(page, from) {
  await page.locator('#incoming').waitFor(WAIT);
  assert.equal(await page.locator('#incoming-who').textContent(), from);
  await page.waitForFunction(() => document.activeElement?.id === 'accept', null, WAIT);
  await page.keyboard.press('Enter');
  await page.locator('#call').waitFor(WAIT);
}

async function idleWith(page, role, text) {
  await page.locator('#idle').waitFor(WAIT);
  await page.locator(`[role="${role}"]`, { hasText: text }).waitFor(WAIT);
}

/**
 * Waits until the page has decoded at least `frames` inbound video frames,
 * and returns its inbound-rtp stats by kind ({bytesReceived,
 * framesDecoded}). The predicate stays synchronous (playwright takes a
 * returned promise as true at once): it reads the stats the previous poll
 * asked for, of the current peer connection only. No code is built from a
 * string in the page: its Content-Security-Policy forbids eval.
 */
async function waitForVideoFrames(page, frames) {
  const handle = await page.waitForFunction((frames) => {
    const pc = window.switchboardCall;
    if (!pc) return false;
    pc.getStats().then((stats) => {
      const inbound = {};
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp') inbound[r.kind] = { bytesReceived: r.bytesReceived, framesDecoded: r.framesDecoded };
      });
      window.phoneTestInbound = { pc, inbound };
    });
    const seen = window.phoneTestInbound;
    return seen?.pc === pc && seen.inbound.video?.framesDecoded >= frames ? seen.inbound : false;
  }, frames, { ...WAIT, polling: 200 });
  return handle.jsonValue();
}

const close = (...pages) => Promise.all(pages.map((page) => page.context().close()));

test('a call: both sides connect and receive audio and video; a third caller gets busy; hang up ends it for the other side', async () => {
  const alice = await phone('alice', { phone: true });
  const bob = await phone('bob');
  const carol = await phone('carol', { phone: true });
  try {
    await dial(alice, 'bob');
    // The other side's video waits for media in the call view, then plays:
    // each state it takes is recorded, since on a fast machine the media can
    // come before a test reads the first one.
    await bob.evaluate(() => {
      const remote = document.getElementById('remote');
      window.remoteStates = [];
      new MutationObserver(() => window.remoteStates.push(remote.dataset.state)).observe(remote, {
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    await answer(bob, 'alice');
    await alice.locator('#call').waitFor(WAIT);

    const [atAlice, atBob] = await Promise.all([waitForMedia(alice), waitForMedia(bob)]);
    console.log(`inbound-rtp bytesReceived: alice ${JSON.stringify(atAlice)}, bob ${JSON.stringify(atBob)}`);
    for (const inbound of [atAlice, atBob]) {
      assert.ok(inbound.audio > 0, `audio bytes ${inbound.audio}`);
      assert.ok(inbound.video > 0, `video bytes ${inbound.video}`);
    }
    for (const page of [alice, bob]) {
      assert.equal(await page.evaluate(() => window.switchboardCall.connectionState), 'connected');
      await page.locator('#remote[data-state="playing"]').waitFor(WAIT);
      await page.locator('[role="status"]', { hasText: 'Connected to' }).waitFor(WAIT);
    }
    const states = await bob.evaluate(() => window.remoteStates);
    assert.equal(states[0], 'waiting', `bob's remote video: ${states}`);
    assert.ok(states.indexOf('playing') > 0, `bob's remote video: ${states}`);

    // The phone-width page fits its width; the screenshot shows video frames.
    await alice.waitForFunction(() => document.getElementById('remote').readyState >= 2 && document.getElementById('local').readyState >= 2, null, WAIT);
    assert.ok(await alice.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling at 390 px');
    // One column on the phone, the two videos side by side on the desktop.
    const rows = (page) => page.evaluate(() => ['remote', 'local'].map((id) => Math.round(document.getElementById(id).getBoundingClientRect().top)));
    const [phoneRemote, phoneLocal] = await rows(alice);
    const [deskRemote, deskLocal] = await rows(bob);
    assert.ok(phoneLocal > phoneRemote, `stacked on the phone: ${phoneRemote}, ${phoneLocal}`);
    assert.equal(deskLocal, deskRemote, 'side by side on the desktop');
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: path.join(ARTIFACTS, 'phone-call.png'), fullPage: true });

    // Busy: carol calls bob, who is in a call.
    await dial(carol, 'bob', { ringing: false });
    await idleWith(carol, 'alert', 'bob is busy');

    // bob hangs up; alice is told and back to idle.
    await bob.locator('#hangup').click();
    await idleWith(bob, 'status', 'Call ended');
    await idleWith(alice, 'status', 'bob hung up');
    assert.equal(await alice.evaluate(() => window.switchboardCall.connectionState), 'closed');
  } finally {
    await close(alice, bob, carol);
  }
});

test('rejection: the caller is told, the callee stays idle', async () => {
  const dave = await phone('dave');
  const erin = await phone('erin', { phone: true });
  try {
    await dial(dave, 'erin');
    await erin.locator('#incoming').waitFor(WAIT);
    await erin.locator('#reject').click();
    await idleWith(dave, 'alert', 'erin rejected the call.');
    await erin.locator('#idle').waitFor(WAIT);

    // Cancel: the callee is told.
    await dial(dave, 'erin');
    await erin.locator('#incoming').waitFor(WAIT);
    await dave.locator('#cancel').click();
    await idleWith(dave, 'status', 'Call cancelled.');
    await idleWith(erin, 'alert', 'dave cancelled the call.');

    // An unknown name.
    await dial(dave, 'nobody', { ringing: false });
    await idleWith(dave, 'alert', 'Nobody called “nobody” is connected.');
  } finally {
    await close(dave, erin);
  }
});

test('entry: a name that is taken is refused, another one works', async () => {
  const first = await phone('frank');
  const second = await newPage(browser, { phone: true });
  try {
    await second.goto(`${base}/call/`);
    await connectAs(second, 'frank');
    await second.locator('[role="alert"]', { hasText: 'The name “frank” is taken. Pick another one.' }).waitFor(WAIT);
    assert.equal(await second.locator('#entry').isVisible(), true);
    assert.equal(await second.evaluate(() => document.activeElement?.id), 'name');
    await connectAs(second, 'frank2');
    await second.locator('#idle').waitFor(WAIT);
    assert.equal(await second.locator('#me').textContent(), 'frank2');
  } finally {
    await close(first, second);
  }
});

test('the caller switches video while ringing and in the call; the callee sees each change', async () => {
  const gina = await phone('gina', { phone: true });
  const hugo = await phone('hugo');
  try {
    await dial(gina, 'hugo');
    const kind = hugo.locator('#incoming-kind');
    await hugo.locator('#incoming').waitFor(WAIT);
    await hugo.locator('#incoming-kind[data-camera="on"]').waitFor(WAIT);
    assert.equal(await kind.textContent(), 'Video call: gina’s camera is on');

    // While hugo's phone rings: off, on, off.
    const toggle = gina.locator('#calling .camera-toggle');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    await hugo.locator('#incoming-kind[data-camera="off"]').waitFor(WAIT);
    assert.equal(await kind.textContent(), 'Voice call: gina’s camera is off');
    await toggle.click();
    await hugo.locator('#incoming-kind[data-camera="on"]').waitFor(WAIT);
    await toggle.click();
    await hugo.locator('#incoming-kind[data-camera="off"]').waitFor(WAIT);

    // The call starts with gina's camera off: hugo sees it off, and gets audio.
    await answer(hugo, 'gina');
    await hugo.locator('#remote-box[data-camera="off"]').waitFor(WAIT);
    assert.equal(await hugo.locator('#remote-camera-off').textContent(), 'gina’s camera is off');
    assert.equal(await hugo.locator('#remote-camera-off').isVisible(), true);
    await hugo.waitForFunction(() => window.switchboardCall?.connectionState === 'connected', null, WAIT);
    // gina sees hugo's camera on (his answer sends video).
    await gina.locator('#remote-box[data-camera="on"]').waitFor(WAIT);

    // In the call: on. hugo's view flips and video arrives.
    const inCall = gina.locator('#call .camera-toggle');
    await inCall.click();
    await hugo.locator('#remote-box[data-camera="on"]').waitFor(WAIT);
    const media = await waitForMedia(hugo);
    assert.ok(media.video > 0 && media.audio > 0, JSON.stringify(media));
    await hugo.locator('#remote-box[data-track="live"]').waitFor(WAIT);
    // Frames are decoded, and keep coming: 10 more than first seen.
    const first = await waitForVideoFrames(hugo, 1);
    const later = await waitForVideoFrames(hugo, first.video.framesDecoded + 10);
    console.log(`hugo, gina's camera on: video bytesReceived ${media.video}, framesDecoded ${first.video.framesDecoded} -> ${later.video.framesDecoded}`);

    // Off again: hugo's view says so, and his browser mutes gina's video track.
    await inCall.click();
    await hugo.locator('#remote-box[data-camera="off"]').waitFor(WAIT);
    await hugo.locator('#remote-box[data-track="muted"]').waitFor(WAIT);
    // And on once more.
    await inCall.click();
    await hugo.locator('#remote-box[data-camera="on"]').waitFor(WAIT);
    await hugo.locator('#remote-box[data-track="live"]').waitFor(WAIT);
  } finally {
    await close(gina, hugo);
  }
});

test('a caller without camera or microphone: the callee is told it is a voice call, and the caller still gets audio and video', async () => {
  const denied = await launch({ deniedMedia: true });
  const kim = await newPage(denied, { phone: true });
  const lena = await phone('lena');
  try {
    await kim.goto(`${base}/call/`);
    await connectAs(kim, 'kim');
    await kim.locator('#idle').waitFor(WAIT);
    await dial(kim, 'lena');
    await kim.locator('[role="alert"]', { hasText: 'No camera or microphone: access was denied.' }).waitFor(WAIT);
    assert.equal(await kim.locator('#calling .camera-toggle').isHidden(), true, 'no camera switch without a camera');
    await lena.locator('#incoming-kind[data-camera="off"]').waitFor(WAIT);
    assert.equal(await lena.locator('#incoming-kind').textContent(), 'Voice call: kim’s camera is off');
    await answer(lena, 'kim');
    await lena.locator('#remote-box[data-camera="off"]').waitFor(WAIT);
    const atKim = await waitForMedia(kim);
    console.log(`inbound-rtp bytesReceived at kim (no devices): ${JSON.stringify(atKim)}`);
    assert.ok(atKim.audio > 0 && atKim.video > 0);
    await kim.locator('#remote-box[data-camera="on"]').waitFor(WAIT);
  } finally {
    await close(kim, lena);
    await denied.close();
  }
});

test('ring timeout, and the server going away: connection closed, then connection failed', async () => {
  const short = await startSwitchboard(['--ring-timeout', '2s']);
  const at = `http://${short.addr}`;
  const ivan = await phone('ivan', { at });
  const judy = await phone('judy', { at, phone: true });
  try {
    await dial(ivan, 'judy');
    await judy.locator('#incoming').waitFor(WAIT);
    await idleWith(ivan, 'alert', 'judy did not answer.');
    await idleWith(judy, 'alert', 'You missed a call from ivan.');

    await short.stop();
    for (const page of [ivan, judy]) {
      await page.locator('#entry').waitFor(WAIT);
      await page.locator('[role="alert"]', { hasText: 'The server closed the connection.' }).waitFor(WAIT);
    }
    await connectAs(ivan, 'ivan');
    await ivan.locator('[role="alert"]', { hasText: 'Could not connect to the server.' }).waitFor(WAIT);
    assert.equal(await ivan.locator('#entry').isVisible(), true);
  } finally {
    await close(ivan, judy);
    await short.stop();
  }
});
