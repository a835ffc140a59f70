// Runs the original calling-signaling 0.1.4 server (from npm, a dev
// dependency) on 127.0.0.1:PORT with its default options, as its own CLI
// does; scripts/bench measures it beside switchboard's calling dialect.
//
//   node scripts/calling-signaling.mjs PORT

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { CallingWebsocketServer } = require('calling-signaling');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node scripts/calling-signaling.mjs PORT');
  process.exit(2);
}
const server = new CallingWebsocketServer();
await server.listen(port, '127.0.0.1');
console.error(`calling-signaling on 127.0.0.1:${port}`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
