// Session resume in the browser (Step 11): mid-call, one page's signaling
// connection drops without a close frame (a TCP proxy between that page and
// switchboard destroys its sockets), or the page reloads. The page shows
// "Reconnecting…", resumes its session with the token it keeps in
// sessionStorage (which rotates), the other page sees no hang-up, media keeps
// flowing (inbound RTP bytes grow on both sides), and a hang-up afterwards
// reaches the other page. For the phone app (chatroulette) and the room app
// (tringtring over socket.io).
//
// Waits are for conditions (locators, page.waitForFunction, the proxy's own
// events); the timeouts are only failure bounds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { launch, newPage, waitForMedia } from './support/browser.mjs';
import { startProxy } from './support/proxy.mjs';
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

const close = (...pages) => Promise.all(pages.map((page) => page.context().close()));

/**
 * Waits until the page's current peer connection is connected and has
 * received more audio and video bytes than `since`, and returns the
 * figures. The predicate stays synchronous (playwright takes a returned
 * promise as met at once): it starts a getStats() and reads the result of
 * the previous one, kept on the connection itself.
 */
async function inboundAbove(page, since = { audio: 0, video: 0 }) {
  const handle = await page.waitForFunction((since) => {
    const pc = window.switchboardCall;
    if (!pc || pc.connectionState !== 'connected') return false;
    if (!pc.testPending) {
      pc.testPending = pc.getStats().then((stats) => {
        const inbound = {};
        stats.forEach((report) => {
          if (report.type === 'inbound-rtp') inbound[report.kind] = report.bytesReceived;
        });
        pc.testInbound = inbound;
        pc.testPending = null;
      });
    }
    const seen = pc.testInbound;
    return seen?.audio > since.audio && seen?.video > since.video ? seen : false;
  }, since, { timeout: 30_000, polling: 200 });
  return handle.jsonValue();
}

/** Marks the page's current peer connection, to tell later whether it is still the same one. */
const markConnection = (page) => page.evaluate(() => { window.switchboardCall.testMark = 'before'; });
const sameConnection = (page) => page.evaluate(() => window.switchboardCall.testMark === 'before');

/**
 * Records, in the page, every state its view goes through from now on (at
 * each DOM change): the phone app's screen and messages, or the room app's
 * status, error and member list. `seen(page)` gives the list. The snapshot
 * is written out here, not passed as text: the page's Content-Security-
 * Policy forbids eval.
 */
function watch(page, app) {
  return page.evaluate((app) => {
    const text = (id) => document.getElementById(id).textContent;
    const take = app === 'phone'
      ? () => ({ screen: document.body.dataset.screen, status: text('status'), alert: text('alert') })
      : () => ({ status: text('call-status'), error: text('error'), members: [...document.querySelectorAll('#members li')].map((li) => li.textContent) });
    window.testSeen = [take()];
    new MutationObserver(() => window.testSeen.push(take())).observe(document.body, {
      subtree: true, childList: true, characterData: true, attributes: true,
    });
  }, app);
}
const seen = (page) => page.evaluate(() => window.testSeen);

/**
 * From the next document on (a reload), records each time the page shows or
 * hides #reconnecting: true for shown. A MutationObserver sees every change,
 * however short.
 */
function recordReconnecting(page) {
  return page.context().addInitScript(() => {
    window.testReconnecting = [];
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.target.id === 'reconnecting') window.testReconnecting.push(!record.target.hidden);
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['hidden'] });
  });
}

/** Waits until the reloaded page has shown "Reconnecting…" and hidden it again. */
async function reconnectedAfterReload(page) {
  await page.waitForFunction(() => {
    const shown = window.testReconnecting ?? [];
    return shown.includes(true) && shown.at(-1) === false && document.getElementById('reconnecting').hidden;
  }, null, WAIT);
}

/**
 * Drops every connection of the page behind `proxy`, keeps the network down
 * until the page shows "Reconnecting…" and has tried to come back, then lets
 * it through and waits for the page to say it is back.
 */
async function dropAndComeBack(page, proxy) {
  proxy.cut();
  await page.locator('#reconnecting').waitFor({ state: 'visible', ...WAIT });
  assert.equal(await page.locator('#reconnecting').textContent(), 'Reconnecting…');
  await proxy.refused();
  proxy.restore();
  await page.locator('#reconnecting').waitFor({ state: 'hidden', ...WAIT });
}

// ---- the phone app (chatroulette) ----

const PHONE_STORE = 'switchboard.phone';
const phoneToken = (page) => page.evaluate((key) => JSON.parse(sessionStorage.getItem(key) ?? 'null')?.token ?? null, PHONE_STORE);

/** A page on /call/ at `at`, connected as `name`. */
async function phone(name, at = base) {
  const page = await newPage(browser);
  await page.goto(`${at}/call/`);
  await page.locator('#name').fill(name);
  await page.locator('#name').press('Enter');
  await page.locator('#idle').waitFor(WAIT);
  return page;
}

/** `caller` calls `callee`, who accepts; resolves once media flows both ways. */
async function phoneCall(caller, callee, calleeName) {
  await caller.locator('#callee').fill(calleeName);
  await caller.locator('#callee').press('Enter');
  await callee.locator('#incoming').waitFor(WAIT);
  await callee.locator('#accept').click();
  await Promise.all([caller, callee].map((page) => page.locator('#call').waitFor(WAIT)));
  return Promise.all([waitForMedia(caller), waitForMedia(callee)]);
}

/** The page stayed in the call all along: never another screen, never told of an end. */
async function phoneStayedInCall(page, peer) {
  const views = await seen(page);
  assert.ok(views.length > 0);
  for (const view of views) {
    assert.equal(view.screen, 'call', `left the call screen: ${JSON.stringify(view)}`);
    assert.doesNotMatch(`${view.status} ${view.alert}`, /hung up|disconnected|ended|offline|failed/, JSON.stringify(view));
  }
  assert.equal(await page.locator('#call-who').textContent(), peer);
}

/** `page` hangs up; `other` is told and goes back to idle. */
async function phoneHangUp(page, other, name) {
  await page.locator('#hangup').click();
  await page.locator('#idle').waitFor(WAIT);
  await other.locator('#idle').waitFor(WAIT);
  await other.locator('[role="status"]', { hasText: `${name} hung up. The call ended.` }).waitFor(WAIT);
}

test('phone app: the caller\'s connection drops mid-call without a close frame; it resumes, the call goes on', async () => {
  const proxy = await startProxy(server.addr);
  const alice = await phone('alice', proxy.url);
  const bob = await phone('bob');
  try {
    const [atAlice, atBob] = await phoneCall(alice, bob, 'bob');
    await Promise.all([markConnection(alice), markConnection(bob)]);
    await watch(bob, 'phone');
    const token = await phoneToken(alice);
    assert.ok(token, 'the page keeps its resume token');

    await dropAndComeBack(alice, proxy);
    const rotated = await phoneToken(alice);
    assert.ok(rotated && rotated !== token, 'a resume rotates the token');
    assert.equal(await alice.locator('#call').isVisible(), true);
    assert.equal(await alice.locator('#call-who').textContent(), 'bob');

    // Media goes on over the same peer connections, more of it on both sides.
    const [laterAlice, laterBob] = await Promise.all([inboundAbove(alice, atAlice), inboundAbove(bob, atBob)]);
    console.log(`phone drop: inbound bytes alice ${JSON.stringify(atAlice)} -> ${JSON.stringify(laterAlice)}, bob ${JSON.stringify(atBob)} -> ${JSON.stringify(laterBob)}`);
    assert.ok(await sameConnection(alice) && await sameConnection(bob), 'no new peer connection after a drop');
    await phoneStayedInCall(bob, 'alice');

    // The resumed session still carries the call: alice's hang-up reaches bob.
    await phoneHangUp(alice, bob, 'alice');
  } finally {
    await close(alice, bob);
    await proxy.close();
  }
});

for (const reloading of ['callee', 'caller']) {
  test(`phone app: the ${reloading} reloads mid-call; it comes back to the call, which goes on`, async () => {
    const caller = await phone(`${reloading}-reload-caller`);
    const callee = await phone(`${reloading}-reload-callee`);
    const [page, other] = reloading === 'caller' ? [caller, callee] : [callee, caller];
    const [name, otherName] = [`${reloading}-reload-${reloading}`, `${reloading}-reload-${reloading === 'caller' ? 'callee' : 'caller'}`];
    try {
      await phoneCall(caller, callee, `${reloading}-reload-callee`);
      await markConnection(other);
      await watch(other, 'phone');
      await recordReconnecting(page);
      const token = await phoneToken(page);

      await page.reload();
      await reconnectedAfterReload(page);
      const rotated = await phoneToken(page);
      assert.ok(rotated && rotated !== token, 'the reloaded page resumed with its token, which rotated');
      await page.locator('#call').waitFor(WAIT);
      assert.equal(await page.locator('#me').textContent(), name);
      assert.equal(await page.locator('#call-who').textContent(), otherName);

      // The reloaded page offered from its new peer connection; the other
      // page answered from a new one of its own. Media flows both ways, and
      // keeps flowing.
      const [firstPage, firstOther] = await Promise.all([inboundAbove(page), inboundAbove(other)]);
      const [laterPage, laterOther] = await Promise.all([inboundAbove(page, firstPage), inboundAbove(other, firstOther)]);
      console.log(`phone reload (${reloading}): inbound bytes reloaded ${JSON.stringify(firstPage)} -> ${JSON.stringify(laterPage)}, other ${JSON.stringify(firstOther)} -> ${JSON.stringify(laterOther)}`);
      assert.equal(await sameConnection(other), false, 'the other page replaced its peer connection');
      await phoneStayedInCall(other, name);

      await phoneHangUp(page, other, name);
    } finally {
      await close(caller, callee);
    }
  });
}

test('phone app: when the connection stays down past the resume window, the page connects afresh under its name; the call is over', async () => {
  const short = await startSwitchboard(['--resume-window', '1s']);
  const at = `http://${short.addr}`;
  const proxy = await startProxy(short.addr);
  const alice = await phone('alice', proxy.url);
  const bob = await phone('bob', at);
  try {
    await phoneCall(alice, bob, 'bob');
    proxy.cut();
    await alice.locator('#reconnecting').waitFor({ state: 'visible', ...WAIT });
    // The window passes: the server ends the held session as a disconnect.
    await bob.locator('[role="status"]', { hasText: 'alice was disconnected. The call ended.' }).waitFor(WAIT);
    proxy.restore();
    // The next attempt's token is refused (4004): a fresh session as alice.
    await alice.locator('#idle').waitFor(WAIT);
    await alice.locator('[role="alert"]', { hasText: 'The connection was down too long: the call with bob ended.' }).waitFor(WAIT);
    assert.equal(await alice.locator('#me').textContent(), 'alice');
    assert.equal(await alice.locator('#reconnecting').isHidden(), true);
    // The name is alice's again: bob can call her.
    await bob.locator('#callee').fill('alice');
    await bob.locator('#callee').press('Enter');
    await alice.locator('#incoming').waitFor(WAIT);
  } finally {
    await close(alice, bob);
    await proxy.close();
    await short.stop();
  }
});

// ---- the room app (tringtring over socket.io) ----

const roomToken = (page, id) => page.evaluate((key) => JSON.parse(sessionStorage.getItem(key) ?? 'null')?.token ?? null, `switchboard.room.${id}`);

/** Creates a room from the landing page at `at`; the page is then in it. Returns its id. */
async function createRoom(page, at) {
  await page.goto(`${at}/`);
  await page.getByRole('button', { name: 'Create a new room' }).click();
  await page.waitForURL(/\/r\/\d{6}\/$/, WAIT);
  return new URL(page.url()).pathname.split('/')[2];
}

async function join(page, name) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').press('Enter');
  await page.locator('#members li', { hasText: `${name} (you)` }).waitFor(WAIT);
}

/** Ada (at `adaAt`) makes a room and joins, Bob joins; resolves once media flows both ways. */
async function roomCall(adaAt = base) {
  const ada = await newPage(browser);
  const bob = await newPage(browser);
  const id = await createRoom(ada, adaAt);
  await join(ada, 'Ada');
  await bob.goto(`${base}/r/${id}/`);
  await join(bob, 'Bob');
  const [atAda, atBob] = await Promise.all([waitForMedia(ada), waitForMedia(bob)]);
  await ada.locator('#call-status', { hasText: 'In a call with Bob' }).waitFor(WAIT);
  await bob.locator('#call-status', { hasText: 'In a call with Ada' }).waitFor(WAIT);
  return { id, ada, bob, atAda, atBob };
}

/** The page never saw its peer leave, and still lists it. */
async function roomStayedInCall(page, you, peer) {
  const views = await seen(page);
  assert.ok(views.length > 0);
  for (const view of views) {
    assert.doesNotMatch(`${view.status} ${view.error}`, /left|Lost|failed/, JSON.stringify(view));
    assert.deepEqual(view.members, [`${you} (you)`, peer], JSON.stringify(view));
  }
}

/** `page` hangs up (and goes to /); `other` sees `name` leave. */
async function roomHangUp(page, other, name, you) {
  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.waitForURL(/\/$/, WAIT);
  await other.locator('#call-status', { hasText: `${name} left the call` }).waitFor(WAIT);
  assert.deepEqual(await other.locator('#members li').allTextContents(), [`${you} (you)`]);
}

test('room app: a page\'s socket.io connection drops mid-call without a disconnect packet; it resumes, the call goes on', async () => {
  const proxy = await startProxy(server.addr);
  const { id, ada, bob, atAda, atBob } = await roomCall(proxy.url);
  try {
    await Promise.all([markConnection(ada), markConnection(bob)]);
    await watch(bob, 'room');
    const token = await roomToken(ada, id);
    assert.ok(token, 'the page keeps its resume token');

    await dropAndComeBack(ada, proxy);
    const rotated = await roomToken(ada, id);
    assert.ok(rotated && rotated !== token, 'a resume rotates the token');
    assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Bob']);

    const [laterAda, laterBob] = await Promise.all([inboundAbove(ada, atAda), inboundAbove(bob, atBob)]);
    console.log(`room drop: inbound bytes Ada ${JSON.stringify(atAda)} -> ${JSON.stringify(laterAda)}, Bob ${JSON.stringify(atBob)} -> ${JSON.stringify(laterBob)}`);
    assert.ok(await sameConnection(ada) && await sameConnection(bob), 'no new peer connection after a drop');
    await roomStayedInCall(bob, 'Bob', 'Ada');

    // The resumed socket speaks for the same member: Ada's hang-up reaches Bob.
    await roomHangUp(ada, bob, 'Ada', 'Bob');
  } finally {
    await close(ada, bob);
    await proxy.close();
  }
});

for (const reloading of ['Bob', 'Ada']) {
  test(`room app: ${reloading} (${reloading === 'Ada' ? 'who offered' : 'who answered'}) reloads mid-call; the page comes back to the room and the call`, async () => {
    const { id, ada, bob } = await roomCall();
    const [page, other] = reloading === 'Ada' ? [ada, bob] : [bob, ada];
    const otherName = reloading === 'Ada' ? 'Bob' : 'Ada';
    try {
      await markConnection(other);
      await watch(other, 'room');
      await recordReconnecting(page);
      const token = await roomToken(page, id);

      await page.reload();
      await reconnectedAfterReload(page);
      const rotated = await roomToken(page, id);
      assert.ok(rotated && rotated !== token, 'the reloaded page resumed with its token, which rotated');
      // Back in the room without joining again.
      assert.equal(await page.locator('#join-form').isHidden(), true);
      assert.deepEqual(await page.locator('#members li').allTextContents(), [`${reloading} (you)`, otherName]);

      const [firstPage, firstOther] = await Promise.all([inboundAbove(page), inboundAbove(other)]);
      const [laterPage, laterOther] = await Promise.all([inboundAbove(page, firstPage), inboundAbove(other, firstOther)]);
      console.log(`room reload (${reloading}): inbound bytes reloaded ${JSON.stringify(firstPage)} -> ${JSON.stringify(laterPage)}, other ${JSON.stringify(firstOther)} -> ${JSON.stringify(laterOther)}`);
      assert.equal(await sameConnection(other), false, 'the other page replaced its peer connection');
      await page.locator('#call-status', { hasText: `In a call with ${otherName}` }).waitFor(WAIT);
      await roomStayedInCall(other, otherName, reloading);

      await roomHangUp(page, other, reloading, otherName);
    } finally {
      await close(ada, bob);
    }
  });
}

test('room app: when the connection stays down past the resume window, the page shows its join form again', async () => {
  const short = await startSwitchboard(['--resume-window', '1s']);
  const proxy = await startProxy(short.addr);
  const ada = await newPage(browser);
  const bob = await newPage(browser);
  try {
    const id = await createRoom(ada, proxy.url);
    await join(ada, 'Ada');
    await bob.goto(`http://${short.addr}/r/${id}/`);
    await join(bob, 'Bob');
    await Promise.all([waitForMedia(ada), waitForMedia(bob)]);
    proxy.cut();
    await ada.locator('#reconnecting').waitFor({ state: 'visible', ...WAIT });
    // The window passes: the server ends the held session, as if Ada left.
    await bob.locator('#call-status', { hasText: 'Ada left the call' }).waitFor(WAIT);
    proxy.restore();
    // The next attempt's token is refused (4004): the join form again.
    await ada.locator('#join-form').waitFor(WAIT);
    await ada.locator('#error', { hasText: 'The connection was down too long' }).waitFor(WAIT);
    assert.equal(await ada.locator('#reconnecting').isHidden(), true);
    assert.equal(await roomToken(ada, id), null, 'nothing left to resume');
    // Joining again works, as a new member.
    await join(ada, 'Ada');
    assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Bob']);
  } finally {
    await close(ada, bob);
    await proxy.close();
    await short.stop();
  }
});
