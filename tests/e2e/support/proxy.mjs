// A TCP proxy between one page and switchboard (node:net), so a test can
// drop that page's connections the way a network does: the sockets are
// destroyed, no WebSocket close frame and no socket.io disconnect packet
// goes either way. HTTP, WebSocket and socket.io polling all pass through
// as bytes.

import net from 'node:net';

/**
 * Listens on 127.0.0.1 (a port of its own) and forwards every connection to
 * `target` ("host:port").
 *
 * - `url`: the proxy's http:// address, for the page to load;
 * - `cut()`: destroys every connection open now, and refuses (destroys at
 *   once) new ones until `restore()`, like a network that is down;
 * - `refused()`: resolves once a connection has been refused since the last
 *   `cut()`, that is once the page has tried to come back;
 * - `close()`: stops listening and drops everything.
 */
export async function startProxy(target) {
  const [host, port] = splitHostPort(target);
  const links = new Set();
  let down = false;
  let refusedOne = null;
  let noteRefused = () => {};

  const server = net.createServer((client) => {
    if (down) {
      noteRefused();
      client.destroy();
      return;
    }
    const upstream = net.connect(port, host);
    const link = { client, upstream };
    links.add(link);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port: own } = server.address();

  return {
    url: `http://127.0.0.1:${own}`,
    cut() {
      down = true;
      refusedOne = new Promise((resolve) => {
        noteRefused = resolve;
      });
      for (const { client, upstream } of [...links]) {
        client.destroy();
        upstream.destroy();
      }
      links.clear();
    },
    restore() {
      down = false;
    },
    refused() {
      return refusedOne ?? Promise.reject(new Error('refused() before cut()'));
    },
    close() {
      for (const { client, upstream } of links) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function splitHostPort(address) {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}
