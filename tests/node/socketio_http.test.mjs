// HTTP around socket.io: the socket.io-client browser bundle at
// /socket.io/socket.io.js, as a Node socket.io server serves it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';

import { startSwitchboard } from './support/servers.mjs';
import { httpGet } from './support/socketio.mjs';

describe('socket.io over HTTP', () => {
  let server;
  before(async () => {
    server = await startSwitchboard();
  });
  after(() => server?.stop());

  test('GET /socket.io/socket.io.js serves the client bundle as JavaScript', async () => {
    const res = await httpGet(server.addr, '/socket.io/socket.io.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/, `content-type ${res.headers.get('content-type')}`);
    assert.match(res.body, /\bio\b/, 'the bundle mentions io');
    // It is JavaScript that parses (it is not run).
    assert.doesNotThrow(() => new vm.Script(res.body, { filename: 'socket.io.js' }));
  });
});
