// The room app (web/index.html, web/room.html, web/js/room.js) in chromium
// against switchboard: create and join rooms, a call between two pages
// (one at a phone's width), the full room, hanging up, a room made by the
// original Tring-Tring landing form (POST /r/<id>), and a denied camera.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch, newPage, waitForMedia } from './support/browser.mjs';
import { startSwitchboard } from '../node/support/servers.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const WAIT = { timeout: 15_000 };

let server;
let base;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startSwitchboard(), launch()]);
  base = `http://${server.addr}`;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const open = newPage;

/**
 * waitForMedia, then (while its stats poll, an async predicate, is taken as
 * met at once by playwright's waitForFunction and gives `false`) a wait for
 * the figures themselves: a synchronous predicate that starts getStats() and
 * reads the last result it left on window.
 */
async function media(page) {
  const inbound = await waitForMedia(page);
  if (inbound?.audio > 0 && inbound?.video > 0) return inbound;
  const handle = await page.waitForFunction(() => {
    const pc = window.switchboardCall;
    if (pc && !window.testStats) {
      window.testStats = pc.getStats().then((stats) => {
        const seen = {};
        stats.forEach((report) => {
          if (report.type === 'inbound-rtp') seen[report.kind] = report.bytesReceived;
        });
        window.testInbound = seen;
        window.testStats = null;
      });
    }
    const seen = window.testInbound;
    return seen?.audio > 0 && seen?.video > 0 ? seen : false;
  }, null, { timeout: 30_000, polling: 200 });
  return handle.jsonValue();
}

/** Creates a room from the landing page, with the keyboard; returns its id (the page is then in the room). */
async function createRoom(page) {
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: 'Create a new room' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/r\/\d{6}\/$/, WAIT);
  return new URL(page.url()).pathname.split('/')[2];
}

/** Types a name and presses Enter; resolves once the page has joined (the member list shows it). */
async function join(page, name) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').press('Enter');
  await page.locator('#members li', { hasText: `${name} (you)` }).waitFor(WAIT);
}

async function members(page) {
  return page.locator('#members li').allTextContents();
}

/** Waits for the page's call status line to contain `text`. */
async function statusSays(page, text) {
  await page.locator('#call-status', { hasText: text }).waitFor(WAIT);
}

async function closePages(...list) {
  await Promise.all(list.map((page) => page.context().close()));
}

test('landing page: create a room leads to /r/<id>/, joining by id opens it, an unknown room goes back to /', async () => {
  const page = await open(browser);
  const id = await createRoom(page);
  assert.match(id, /^\d{6}$/);
  assert.equal(await page.locator('#room').textContent(), id);
  assert.equal(await page.locator('label[for=name]').textContent(), 'Your name');

  // Join by id, from the keyboard.
  await page.goto(`${base}/`);
  assert.equal(await page.getByRole('link', { name: 'Open the phone app' }).getAttribute('href'), '/call/');
  await page.getByLabel('Room id').fill(id);
  await page.getByLabel('Room id').press('Enter');
  await page.waitForURL(`${base}/r/${id}/`, WAIT);

  // A room nobody created.
  const response = await page.goto(`${base}/r/nosuchroom/`);
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(response.status(), 200);
  assert.ok(await page.getByRole('button', { name: 'Create a new room' }).isVisible());
  await closePages(page);
});

test('two pages complete a call; a third gets full-room; hanging up tells the other', async (t) => {
  const desk = await open(browser);
  const phone = await open(browser, { phone: true });
  const id = await createRoom(desk);
  await join(desk, 'Ada');
  await statusSays(desk, 'Waiting for someone to join');
  assert.equal(await desk.locator('#remote').getAttribute('data-state'), 'waiting');

  await phone.goto(`${base}/r/${id}/`);
  await join(phone, 'Bob');

  await t.test('each side connects and receives audio and video', async () => {
    const [deskIn, phoneIn] = await Promise.all([media(desk), media(phone)]);
    t.diagnostic(`bytesReceived desk ${JSON.stringify(deskIn)} phone ${JSON.stringify(phoneIn)}`);
    for (const [side, inbound] of [['desk', deskIn], ['phone', phoneIn]]) {
      assert.ok(inbound.audio > 0, `${side} audio bytesReceived ${inbound.audio}`);
      assert.ok(inbound.video > 0, `${side} video bytesReceived ${inbound.video}`);
    }
    for (const page of [desk, phone]) {
      assert.equal(await page.evaluate(() => window.switchboardCall.connectionState), 'connected');
      await page.locator('#remote[data-state=playing]').waitFor(WAIT);
    }
    await statusSays(desk, 'In a call with Bob');
    await statusSays(phone, 'In a call with Ada');
    // One entry per member, although the server sends user-arrived and user-joined.
    assert.deepEqual(await members(desk), ['Ada (you)', 'Bob']);
    assert.deepEqual(await members(phone), ['Bob (you)', 'Ada']);
    // Nothing sticks out sideways at a phone's width.
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth));
    await mkdir(ARTIFACTS, { recursive: true });
    await desk.screenshot({ path: path.join(ARTIFACTS, 'room-call.png'), fullPage: true });
  });

  await t.test('a third page gets the full-room message', async () => {
    const third = await open(browser);
    await third.goto(`${base}/r/${id}/`);
    await third.getByLabel('Your name').fill('Cy');
    await third.getByRole('button', { name: 'Join' }).click();
    const full = third.locator('#full');
    await full.waitFor({ state: 'visible', ...WAIT });
    assert.match(await full.textContent(), /This room is full/);
    assert.equal(await full.getAttribute('role'), 'alert');
    assert.ok(await third.getByRole('button', { name: 'Join' }).isEnabled());
    await closePages(third);
    // The two in the call did not notice.
    assert.deepEqual(await members(desk), ['Ada (you)', 'Bob']);
  });

  await t.test('hanging up: the page goes back to /, the other is told', async () => {
    await phone.getByRole('button', { name: 'Hang up' }).click();
    await phone.waitForURL(`${base}/`, WAIT);
    await statusSays(desk, 'Bob left the call');
    assert.deepEqual(await members(desk), ['Ada (you)']);
    assert.equal(await desk.evaluate(() => window.switchboardCall.connectionState), 'closed');
    assert.equal(await desk.locator('#remote').getAttribute('data-state'), 'waiting');
  });
  await closePages(desk, phone);
});

let formRooms = 0;
/** A six-digit room id for a form, unlikely to be one a page drew. */
function formRoomId() {
  formRooms += 1;
  return String(100000 + ((process.pid * 7919 + Date.now() + formRooms * 104729) % 900000));
}

/**
 * The original Tring-Tring landing page's create form (public/index.pug):
 * a plain HTML form, method POST, action r/<id>, with the fields it posts
 * (create_room_id, create_room_password, func_type=create). It is put into
 * the landing page and submitted with a click, so the browser shows the
 * server's answer to the POST. Resolves with that response.
 */
async function submitCreateForm(page, id) {
  await page.goto(`${base}/`);
  await page.evaluate((roomId) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = `/r/${roomId}`;
    const fields = { create_room_id: roomId, create_room_password: 'k3j4h5g6', func_type: 'create' };
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      form.append(input);
    }
    const submit = document.createElement('button');
    submit.type = 'submit';
    submit.id = 'original-create';
    submit.textContent = 'Create a New Room (original form)';
    form.append(submit);
    document.body.append(form);
  }, id);
  const [response] = await Promise.all([
    page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === `/r/${id}`, WAIT),
    page.locator('#original-create').click(),
  ]);
  await page.waitForURL(`${base}/r/${id}`, WAIT);
  return response;
}

test('the original landing form: POST /r/<id> shows the call page; two pages open /r/<id>/, call, and one hangs up', async (t) => {
  const id = formRoomId();
  const desk = await open(browser);
  const laptop = await open(browser);

  await t.test('the form POST answers with the call page of the room', async () => {
    const response = await submitCreateForm(desk, id);
    assert.equal(response.status(), 200, 'POST /r/<id>');
    assert.match(response.request().headers()['content-type'] ?? '', /^application\/x-www-form-urlencoded/);
    assert.equal(new URLSearchParams(response.request().postData() ?? '').get('func_type'), 'create');
    assert.match(response.headers()['content-type'] ?? '', /^text\/html/);
    // What the browser shows is that answer: the room's page, asking for a name.
    assert.equal(new URL(desk.url()).pathname, `/r/${id}`);
    assert.equal(await desk.locator('#room').textContent(), id);
    assert.ok(await desk.getByLabel('Your name').isVisible());
  });

  await t.test('each page opens /r/<id>/ (the room exists now), types a name and joins', async () => {
    for (const page of [desk, laptop]) {
      const response = await page.goto(`${base}/r/${id}/`);
      assert.equal(response.status(), 200, `GET /r/${id}/`);
      assert.equal(new URL(page.url()).pathname, `/r/${id}/`, 'not sent back to /');
      assert.equal(await page.locator('#room').textContent(), id);
    }
    await join(desk, 'Ada');
    await statusSays(desk, 'Waiting for someone to join');
    await join(laptop, 'Bob');
  });

  await t.test('the call connects with audio and video both ways', async () => {
    const [deskIn, laptopIn] = await Promise.all([media(desk), media(laptop)]);
    t.diagnostic(`bytesReceived desk ${JSON.stringify(deskIn)} laptop ${JSON.stringify(laptopIn)}`);
    for (const [side, inbound] of [['desk', deskIn], ['laptop', laptopIn]]) {
      assert.ok(inbound.audio > 0, `${side} audio bytesReceived ${inbound.audio}`);
      assert.ok(inbound.video > 0, `${side} video bytesReceived ${inbound.video}`);
    }
    await statusSays(desk, 'In a call with Bob');
    await statusSays(laptop, 'In a call with Ada');
    assert.deepEqual(await members(desk), ['Ada (you)', 'Bob']);
    assert.deepEqual(await members(laptop), ['Bob (you)', 'Ada']);
  });

  await t.test('one hangs up: the other sees the peer leave', async () => {
    await laptop.getByRole('button', { name: 'Hang up' }).click();
    await laptop.waitForURL(`${base}/`, WAIT);
    await statusSays(desk, 'Bob left the call');
    assert.deepEqual(await members(desk), ['Ada (you)']);
    assert.equal(await desk.evaluate(() => window.switchboardCall.connectionState), 'closed');
    assert.equal(await desk.locator('#remote').getAttribute('data-state'), 'waiting');
  });
  await closePages(desk, laptop);
});

test('a denied camera: a clear message, and the call still connects to receive', async (t) => {
  const denied = await launch({ deniedMedia: true });
  t.after(() => denied.close());
  // Both orders: the one without media offers (receive-only), or answers.
  for (const deniedFirst of [true, false]) {
    const noCam = await open(denied);
    const cam = await open(browser);
    const [first, second] = deniedFirst ? [noCam, cam] : [cam, noCam];
    const id = await createRoom(first);
    await second.goto(`${base}/r/${id}/`);
    const alert = noCam.locator('#media-error');
    await alert.waitFor({ state: 'visible', ...WAIT });
    assert.match(await alert.textContent(), /No camera or microphone: access was denied\. You can still watch and listen\./);
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.equal(await cam.locator('#media-error').textContent(), '');

    await join(first, 'First');
    await join(second, 'Second');
    const inbound = await media(noCam);
    t.diagnostic(`denied side ${deniedFirst ? 'offers' : 'answers'}: bytesReceived ${JSON.stringify(inbound)}`);
    assert.ok(inbound.audio > 0 && inbound.video > 0, JSON.stringify(inbound));
    await cam.waitForFunction(() => window.switchboardCall?.connectionState === 'connected', null, WAIT);
    await noCam.locator('#remote[data-state=playing]').waitFor(WAIT);
    await closePages(noCam, cam);
  }
});
