// Debian's chromium, driven by playwright-core, with a fake camera and
// microphone, for the browser tests of the web client.

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

/** Where Debian puts chromium; override with CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches headless chromium. The fake media flags give every page a test
 * pattern camera and a beeping microphone, and grant the permission without
 * a prompt; the network flags keep chromium off the network (the machine has
 * none) so it does not stall on background requests.
 */
export async function launch({ deniedMedia = false } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: scripts/test installs it (apt-get install chromium)`);
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-device-for-media-stream',
    deniedMedia ? '--deny-permission-prompts' : '--use-fake-ui-for-media-stream',
  ];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * A new page in its own context (its own cookies and permissions), sized as
 * a desktop unless `phone` is set.
 */
export async function newPage(browser, { phone = false } = {}) {
  const context = await browser.newContext(phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  return page;
}

/**
 * Waits until the page's window.switchboardCall (the RTCPeerConnection the
 * page exposes for tests) is connected and has received bytes of every
 * kind in `kinds` (audio and video unless told), then returns its
 * inbound-rtp stats by kind.
 */
export async function waitForMedia(page, { timeout = 30_000, kinds = ['audio', 'video'] } = {}) {
  await page.waitForFunction(() => window.switchboardCall?.connectionState === 'connected', null, { timeout });
  // waitForFunction takes a returned Promise as truthy at once, so the
  // predicate stays synchronous: it starts a getStats() and reads the result
  // of the previous one.
  const handle = await page.waitForFunction((kinds) => {
    // Kept on the connection itself, so a later call on the same page is
    // judged on its own figures.
    const pc = window.switchboardCall;
    if (!pc) return false;
    if (!pc.__statsPending) {
      pc.__statsPending = pc.getStats().then((stats) => {
        const inbound = {};
        stats.forEach((report) => {
          if (report.type === 'inbound-rtp') inbound[report.kind] = report.bytesReceived;
        });
        pc.__inbound = inbound;
        pc.__statsPending = null;
      });
    }
    const inbound = pc.__inbound;
    return inbound && kinds.every((kind) => inbound[kind] > 0) ? inbound : false;
  }, kinds, { timeout, polling: 200 });
  return handle.jsonValue();
}
