// Media across dialects with a Wire device (Step 13): the phone app
// (/call/, chatroulette) in Debian's chromium calls a Wire user, whose
// device is `switchboard-wire-device` (crates/client): ECall over /ws/ecall
// with a real WebRTC peer (str0m). The server bridges the call: it accepts
// for the device so the phone app offers, rings the device on a SETUP that
// holds the offer and its candidates, and relays the device's SETUP answer
// back. The phone's audio and video must reach the device, and the
// device's audio the phone.
//
// Waits are for conditions; the timeouts are only failure bounds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { launch, newPage, waitForMedia } from './support/browser.mjs';
import { startSwitchboard, switchboardBin } from '../node/support/servers.mjs';

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
 * Starts `switchboard-wire-device` (built beside the switchboard binary) as
 * device `phone` of `user`, and resolves once it says it is registered.
 * `next(event)` resolves with its next report line of that event.
 */
async function wireDevice(user) {
  const bin = path.join(path.dirname(switchboardBin()), 'switchboard-wire-device');
  if (!existsSync(bin)) throw new Error(`${bin} not found (build it with \`cargo build -p switchboard-client\`)`);
  const child = spawn(bin, ['--server', `ws://${server.addr}`, '--user', user, '--client', 'phone'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seen = [];
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const report = JSON.parse(line);
    seen.push(report);
    for (const wait of waiting.splice(0)) wait();
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const next = (event, { timeout = 30_000 } = {}) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the wire device never reported ${event}; it said ${JSON.stringify(seen)}`)), timeout);
    const look = () => {
      const found = seen.find((report) => report.event === event);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      } else {
        waiting.push(look);
      }
    };
    look();
  });
  await next('ready', { timeout: 10_000 });
  return { next, exited, kill: () => child.kill() };
}

test('the phone app calls a Wire device and media flows both ways through the ecall bridge', async () => {
  const device = await wireDevice('wire-bob');
  const phone = await newPage(browser, { phone: true });
  try {
    await phone.goto(`${base}/call/`);
    await phone.locator('#name').fill('alice');
    await phone.locator('#name').press('Enter');
    await phone.locator('#idle').waitFor(WAIT);
    await phone.locator('#callee').fill('wire-bob');
    await phone.locator('#callee').press('Enter');

    const ringing = await device.next('ringing');
    assert.equal(ringing.from, 'alice');
    const [atPhone, atDevice] = await Promise.all([waitForMedia(phone, { kinds: ['audio'] }), device.next('media')]);
    console.log(`phone inbound-rtp bytesReceived ${JSON.stringify(atPhone)}; wire device ${JSON.stringify(atDevice)}`);
    assert.ok(atPhone.audio > 0, `the phone received audio bytes: ${atPhone.audio}`);
    assert.ok(atDevice.audio_bytes > 0 && atDevice.video_bytes > 0, JSON.stringify(atDevice));

    // The phone hangs up: the Wire device hears HANGUP and exits.
    await phone.locator('#hangup').click();
    const ended = await device.next('ended');
    assert.deepEqual(ended, { event: 'ended', from: 'alice', reason: 'remote_hangup' });
    assert.equal(await device.exited, 0);
  } finally {
    device.kill();
    await phone.context().close();
  }
});
