// A small JSON WebSocket client for the calling dialect, with an async
// message queue. Every message received is kept in `received` (in order);
// answers to `request()` are delivered to that request and also kept in
// `received`; everything else is queued for `next()`.

import WebSocket from 'ws';

const DEFAULT_TIMEOUT_MS = 5_000;

export class JsonClient {
  constructor(ws) {
    this.ws = ws;
    /** Every message received, parsed, in order (the hello included). */
    this.received = [];
    /** Frames that were not JSON, as text. */
    this.unparsed = [];
    this.queue = [];
    this.waiters = [];
    this.pending = new Map();
    this.nextTid = 1;
    this.id = undefined;
    this.hello = undefined;
    this.closeInfo = undefined;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        const err = new Error(`socket closed (${code})`);
        for (const { reject } of this.waiters.splice(0)) reject(err);
        for (const { reject } of this.pending.values()) reject(err);
        this.pending.clear();
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    // Keep socket errors from becoming uncaught exceptions; `closed` follows.
    ws.on('error', (err) => {
      this.lastError = err;
    });
  }

  #onFrame(data, isBinary) {
    const text = isBinary ? Buffer.from(data).toString('utf8') : data.toString();
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.unparsed.push(text);
      return;
    }
    this.received.push(msg);
    if (msg?.type === 'answer' && this.pending.has(msg.tid)) {
      const { resolve } = this.pending.get(msg.tid);
      this.pending.delete(msg.tid);
      resolve(msg);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(msg);
    } else {
      this.queue.push(msg);
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one message as JSON. */
  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  /** Sends a text frame as it is (for malformed input). */
  sendRaw(text) {
    this.ws.send(text);
  }

  /**
   * Sends `obj` with a tid (its own if it has one, else the next number) and
   * resolves with the whole answer message `{type: "answer", tid, [data], [error]}`.
   */
  request(obj, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    const msg = { ...obj };
    if (msg.tid === undefined) msg.tid = this.nextTid++;
    return new Promise((resolve, reject) => {
      if (this.pending.has(msg.tid)) {
        reject(new Error(`tid ${msg.tid} already in flight`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(msg.tid);
        reject(new Error(`no answer to ${JSON.stringify(msg)} within ${timeout} ms`));
      }, timeout);
      this.pending.set(msg.tid, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.send(msg);
    });
  }

  /** Resolves with the next message that is not an answer to `request()`. */
  next({ timeout = DEFAULT_TIMEOUT_MS } = {}) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`socket closed (${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no message within ${timeout} ms`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /** Waits for the next queued message of type `type`, dropping the others before it. */
  async nextOfType(type, opts) {
    for (;;) {
      const msg = await this.next(opts);
      if (msg.type === type) return msg;
    }
  }

  /** Takes every queued message (not answers to `request()`). */
  drain() {
    return this.queue.splice(0);
  }

  /** Closes the socket and resolves once it is closed. */
  close(code = 1000) {
    if (!this.closeInfo) this.ws.close(code);
    return this.closed;
  }

  /** Drops the TCP connection without a close handshake. */
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/**
 * Connects to `url` and resolves once the `hello` event has arrived; the
 * client's `id` is the hello's `id`. The hello stays in `received`, not in the queue.
 */
export function connect(url, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const client = new JsonClient(ws);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no hello from ${url} within ${timeout} ms`));
    }, timeout);
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`${url}: HTTP ${res.statusCode} instead of a WebSocket upgrade`));
    });
    client.next({ timeout }).then((msg) => {
      clearTimeout(timer);
      if (msg.type !== 'hello') {
        ws.terminate();
        reject(new Error(`first message is not hello: ${JSON.stringify(msg)}`));
        return;
      }
      client.hello = msg;
      client.id = msg.id;
      resolve(client);
    }, (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
