// Seed 001: the client draws a random room id and asks the server for it;
// a room in use answers {status: false}, and the client draws again.
const ATTEMPTS = 5;
const ANSWER_TIMEOUT_MS = 5000;
const button = document.getElementById('create');
const status = document.getElementById('create-status');
const alert = document.getElementById('create-error');
// Opened on the first click, not on load: the server disconnects a socket
// that has not registered (for tringtring, sent its first event) within its
// register timeout, 10 s by default.
let socket = null;

function drawRoomId() {
  const [n] = crypto.getRandomValues(new Uint32Array(1));
  return String(100000 + (n % 900000));
}

function createRoom(roomId) {
  return new Promise((resolve, reject) => {
    socket ??= io();
    socket.timeout(ANSWER_TIMEOUT_MS).emit('create-room', { room_id: roomId }, (err, answer) => {
      if (err) reject(new Error('The server did not answer. Check your connection and try again.'));
      else resolve(answer);
    });
  });
}

button.addEventListener('click', async () => {
  button.disabled = true;
  alert.textContent = '';
  status.textContent = 'Creating a room…';
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const answer = await createRoom(drawRoomId());
      if (answer?.status) {
        location.assign('/' + answer.url_extend + '/');
        return;
      }
    }
    throw new Error('Could not find a free room id. Please try again.');
  } catch (error) {
    status.textContent = '';
    alert.textContent = error.message;
    button.disabled = false;
  }
});

document.getElementById('join').addEventListener('submit', (event) => {
  event.preventDefault();
  const roomId = document.getElementById('room-id').value.trim();
  if (!roomId) return;
  location.assign('/r/' + encodeURIComponent(roomId) + '/');
});
