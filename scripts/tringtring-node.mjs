// A socket.io 4 server doing what Tring-Tring's own server (server.js,
// socket.io 2) does, so that scripts/bench can measure switchboard's
// tringtring dialect beside the server a Tring-Tring user would run
// instead, on today's socket.io (pinned in package-lock.json):
//
// - rooms of two: `join` {room_id, peer_name} puts the socket in the room
//   and tells the other member `user-joined` {peer_name, peer_id,
//   room_size}; a third gets `full-room`;
// - `offer`, `answer` and `ice-candidate` go, unchanged, to the socket
//   named by their `to`;
// - `cut-the-call` {room_id, peer_id} (or a disconnect) tells the other
//   member `user-left` {peer_id}.
//
// Where switchboard's dialect adds to the original, this does the same
// work, so that the two are measured doing one job: `create-room` (the
// original's HTTP form post) with its `redirect` event and ack, an ack for
// `join`, and an empty room forgotten (the original kept every room).
//
//   node scripts/tringtring-node.mjs PORT   (0: any free port; the address
//                                           is logged on stderr)

import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 0) {
  console.error('usage: node scripts/tringtring-node.mjs PORT');
  process.exit(2);
}

/** room id -> Map(socket id -> peer name); at most two members. */
const rooms = new Map();
const ROOM_SIZE = 2;

function leave(socket, roomId) {
  const members = rooms.get(roomId);
  if (!members || !members.delete(socket.id)) return;
  socket.leave(roomId);
  socket.to(roomId).emit('user-left', { peer_id: socket.id });
  if (members.size === 0) rooms.delete(roomId);
}

const http = createServer();
const io = new Server(http);
io.on('connection', (socket) => {
  let joined = null;

  socket.on('create-room', (data, ack) => {
    const roomId = String(data?.room_id ?? '');
    let answer;
    if (!roomId || rooms.get(roomId)?.size) {
      answer = { status: false, error: `room ${roomId} is in use; create another` };
    } else {
      rooms.set(roomId, new Map());
      answer = { status: true, url_extend: `r/${roomId}` };
    }
    socket.emit('redirect', answer);
    if (typeof ack === 'function') ack(answer);
  });

  socket.on('join', (data, ack) => {
    const roomId = String(data?.room_id ?? '');
    const members = rooms.get(roomId);
    if (!members || members.size >= ROOM_SIZE) {
      socket.emit('full-room');
      return;
    }
    const peers = [...members].map(([peer_id, peer_name]) => ({ peer_name, peer_id }));
    members.set(socket.id, data.peer_name);
    joined = roomId;
    socket.join(roomId);
    socket.to(roomId).emit('user-joined', { peer_name: data.peer_name, peer_id: socket.id, room_size: members.size });
    if (typeof ack === 'function') ack({ room_id: roomId, peers });
  });

  for (const name of ['offer', 'answer', 'ice-candidate']) {
    socket.on(name, (data) => {
      if (typeof data?.to === 'string') socket.to(data.to).emit(name, data);
    });
  }

  socket.on('cut-the-call', (data) => {
    if (joined !== null && String(data?.room_id) === joined) {
      leave(socket, joined);
      joined = null;
    }
  });
  socket.on('disconnect', () => {
    if (joined !== null) leave(socket, joined);
  });
});

http.listen(port, '127.0.0.1', () => console.error(`tringtring-node on 127.0.0.1:${http.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
