// The room app (seed 001, Tring-Tring) over switchboard's tringtring
// dialect: join a two-person room by name, see who is in it, and call the
// other person. The one already in the room makes the offer when someone
// arrives; ICE candidates trickle both ways.
//
// Resume (the server's Step 11): the socket opts in (query resume=1) and
// the server answers with a `session` event carrying a token. When the
// transport drops without socket.io's disconnect packet, the server holds
// the session in the room for its resume window and tells the other person
// nothing; socket.io reconnects by itself with backoff, showing
// "Reconnecting…", and each attempt shows the newest token. The token, the
// name, the members and the call are kept in sessionStorage, so a reload
// comes back to the room without joining again, and offers from a new peer
// connection; the other page answers it from a new one, as it does any
// offer. A resumed socket has a new socket.id, but the room still knows us
// by the peer id of the session's first socket: that is the one we use.

import { iceServers, localMedia, peerConnection, showRemote } from '/js/media.js';
import { recall, showReconnecting } from '/js/resume.js';

const $ = (id) => document.getElementById(id);

const roomId = $('app').dataset.room || decodeURIComponent(location.pathname.split('/')[2] ?? '');
const share = $('share');
share.href = `${location.origin}/r/${encodeURIComponent(roomId)}/`;
share.textContent = share.href;

const form = $('join-form');
const nameInput = $('name');
const joinButton = $('join');
const hangupButton = $('hangup');
const membersList = $('members');
const membersEmpty = $('members-empty');
const callStatus = $('call-status');
const errorAlert = $('error');
const localVideo = $('local');
const remoteVideo = $('remote');
const remoteCaption = $('remote-caption');

// The preview starts on load; joining waits for it.
const media = localMedia().then(({ stream, error }) => {
  if (stream) localVideo.srcObject = stream;
  if (error) $('media-error').textContent = error;
  return stream;
});
const servers = iceServers();

// Connected on Join, not on load: the server disconnects a socket that has
// not sent its first event (tringtring's registration) within its register
// timeout, 10 s by default, and a visitor may take longer to type a name.
// The reconnection delays stay well inside the 30 s resume window.
const socket = io({ autoConnect: false, query: { resume: '1' }, reconnectionDelay: 500, reconnectionDelayMax: 4000 });

/** The server's default --resume-window: after it, a held session is gone. */
const RESUME_WINDOW_MS = 30_000;
/** sessionStorage key: {token, name, peerId, members, callPeer}, what a reload needs. */
const STORE = `switchboard.room.${roomId}`;
/** The session's resume token, the newest (each resume rotates it), or null. */
let token = null;
/** Our peer id in the room: the session's first socket.id. */
let myId = null;
/** When the connection dropped, while reconnecting; else null. */
let lostAt = null;
/** After a reload: the peer to call again once the session is back, else null. */
let rejoinPeer = null;

/** Once joined: {name, stream, servers}. */
let me = null;
/** The others in the room: peer_id → name. */
const members = new Map();
/** The call in progress: {peerId, pc, ready (remote description set), queue (early candidates)}. */
let call = null;
/** Candidates that came before their call's offer, by sender. */
const early = new Map();
let leaving = false;

function nameOf(peerId) {
  return members.get(peerId) || 'the other person';
}

function renderMembers() {
  remember(); // every change of the members comes here
  membersList.replaceChildren();
  if (!me) {
    membersEmpty.hidden = false;
    return;
  }
  membersEmpty.hidden = true;
  const you = document.createElement('li');
  you.textContent = `${me.name} (you)`;
  membersList.append(you);
  for (const [peerId, name] of members) {
    const item = document.createElement('li');
    item.textContent = name || 'Someone without a name';
    item.dataset.peerId = peerId;
    membersList.append(item);
  }
}

function status(text) {
  callStatus.textContent = text;
}

/** Keeps what a reload needs in sessionStorage (cleared once we are not in the room). */
function remember() {
  if (!me || !token || leaving) return sessionStorage.removeItem(STORE);
  const saved = { token, name: me.name, peerId: myId, members: [...members], callPeer: call?.peerId ?? null };
  sessionStorage.setItem(STORE, JSON.stringify(saved));
}

function showError(text) {
  errorAlert.textContent = text;
}

// Joining.

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!name) {
    nameInput.focus();
    return;
  }
  joinButton.disabled = true;
  showError('');
  $('full').hidden = true;
  status('Joining…');
  // Media and ICE servers first, so calls can start at once once joined.
  const [stream, iceList] = await Promise.all([media, servers]);
  socket.connect(); // a no-op once connected; the emit waits for it
  socket.emit('join', { room_id: roomId, peer_name: name }, (answer) => {
    me = { name, stream, servers: iceList };
    myId ??= socket.id; // a server without resume sends no session event
    members.clear();
    for (const peer of answer?.peers ?? []) {
      if (peer.peer_id !== myId) members.set(peer.peer_id, peer.peer_name);
    }
    renderMembers();
    form.hidden = true;
    hangupButton.hidden = false;
    if (members.size > 0) status(`Connecting to ${[...members.values()].join(', ')}…`);
    else status('Waiting for someone to join. Send them this room’s address.');
    hangupButton.focus();
  });
});

socket.on('full-room', () => {
  status('');
  $('full').hidden = false;
  joinButton.disabled = false;
});

socket.on('error', (payload) => {
  // 4004: the server no longer holds our session (the window passed).
  if (payload?.code === 4004) return startOver('The connection was down too long and you left the room. Join again.');
  status('');
  showError(payload?.message ?? String(payload));
  if (!me) joinButton.disabled = false;
});

// Resume.

socket.on('session', ({ resume, resumed } = {}) => {
  token = resume ?? null;
  if (!resumed) myId = socket.id;
  lostAt = null;
  showReconnecting(false);
  remember();
  if (resumed && rejoinPeer) {
    const peerId = rejoinPeer;
    rejoinPeer = null;
    if (members.has(peerId) && !call) offer(peerId);
  }
});

// Each attempt shows the newest token; once the window has passed, none would do.
socket.io.on('reconnect_attempt', () => {
  if (lostAt !== null && Date.now() - lostAt > RESUME_WINDOW_MS) {
    socket.disconnect();
    startOver('Lost the connection to the server. Join again.');
    return;
  }
  if (token) socket.io.opts.query = { resume: token };
});

socket.on('disconnect', (reason) => {
  if (!me || leaving) return;
  // The transport dropped (socket.io reconnects by itself) or the server
  // closed the socket (stopping, a limit: the session is over).
  if (token && (reason === 'transport close' || reason === 'transport error' || reason === 'ping timeout')) {
    lostAt ??= Date.now();
    showReconnecting(true);
    return;
  }
  showError('Lost the connection to the server. Reload the page to join again.');
});

/** The session is gone: back to the join form, with `text` said; a later Join starts a new one. */
function startOver(text) {
  endCall();
  me = null;
  token = null;
  myId = null;
  lostAt = null;
  rejoinPeer = null;
  members.clear();
  renderMembers();
  socket.io.opts.query = { resume: '1' };
  showReconnecting(false);
  status('');
  showError(text);
  form.hidden = false;
  hangupButton.hidden = true;
  joinButton.disabled = false;
}

/**
 * After a reload: back in the room as the session sessionStorage names,
 * without joining again; the call is made again once the session is back.
 */
async function comeBack(saved) {
  form.hidden = true;
  nameInput.value = saved.name;
  showReconnecting(true);
  const [stream, iceList] = await Promise.all([media, servers]);
  token = saved.token;
  myId = saved.peerId;
  me = { name: saved.name, stream, servers: iceList };
  for (const [peerId, name] of saved.members ?? []) members.set(peerId, name);
  renderMembers();
  hangupButton.hidden = false;
  rejoinPeer = saved.callPeer;
  lostAt = Date.now();
  socket.io.opts.query = { resume: token };
  socket.connect();
}

// Who is in the room. The server sends both user-arrived (the seed's name)
// and user-joined (the original's) for each newcomer: the first one counts.

function arrived({ peer_name: name, peer_id: peerId } = {}) {
  if (!me || !peerId || peerId === myId || members.has(peerId)) return;
  members.set(peerId, name);
  renderMembers();
  // The one already in the room calls the newcomer (seed: 'user-arrived': create offer and send).
  if (!call) offer(peerId);
}
socket.on('user-arrived', arrived);
socket.on('user-joined', arrived);

socket.on('user-left', ({ peer_id: peerId } = {}) => {
  if (!members.has(peerId)) return;
  const name = nameOf(peerId);
  members.delete(peerId);
  renderMembers();
  if (call?.peerId === peerId) {
    endCall();
    status(`${name} left the call.`);
    remoteCaption.textContent = `${name} left. Waiting for someone to join.`;
  }
});

// The call.

function startCall(peerId) {
  endCall();
  const pc = peerConnection(me.servers, me.stream);
  const current = { peerId, pc, ready: false, queue: early.get(peerId) ?? [] };
  early.delete(peerId);
  call = current;
  remember();
  showRemote(remoteVideo, pc);
  remoteCaption.textContent = `Waiting for video from ${nameOf(peerId)}`;
  pc.addEventListener('track', (event) => {
    event.track.addEventListener('unmute', () => {
      if (call === current) remoteCaption.textContent = nameOf(peerId);
    });
  });
  pc.addEventListener('icecandidate', (event) => {
    if (event.candidate) socket.emit('ice-candidate', { from: myId, to: peerId, candidate: event.candidate.toJSON() });
  });
  pc.addEventListener('connectionstatechange', () => {
    if (call !== current) return;
    switch (pc.connectionState) {
      case 'connecting': status(`Connecting to ${nameOf(peerId)}…`); break;
      case 'connected': status(`In a call with ${nameOf(peerId)}.`); break;
      case 'disconnected': status(`The connection to ${nameOf(peerId)} is interrupted…`); break;
      case 'failed': status(`The connection to ${nameOf(peerId)} failed.`); break;
    }
  });
  return current;
}

function endCall() {
  if (!call) return;
  call.pc.close();
  call = null;
  remoteVideo.srcObject = null;
  remoteVideo.dataset.state = 'waiting';
  remember();
}

async function remoteDescription(current, description) {
  await current.pc.setRemoteDescription(description);
  current.ready = true;
  for (const candidate of current.queue.splice(0)) await addCandidate(current, candidate);
}

async function addCandidate(current, candidate) {
  try {
    await current.pc.addIceCandidate(candidate);
  } catch (error) {
    console.warn('ICE candidate refused', error);
  }
}

function descriptionMessage(current, type) {
  return { from: { name: me.name, id: myId }, to: current.peerId, type, sdp: current.pc.localDescription.toJSON() };
}

async function offer(peerId) {
  const current = startCall(peerId);
  status(`Calling ${nameOf(peerId)}…`);
  try {
    await current.pc.setLocalDescription();
    if (call === current) socket.emit('offer', descriptionMessage(current, 'offer'));
  } catch (error) {
    showError(`Could not start the call: ${error.message}`);
  }
}

socket.on('offer', async ({ from, sdp } = {}) => {
  if (!me || !from?.id || !sdp) return;
  if (call && call.peerId !== from.id) return; // one call at a time
  if (!members.has(from.id)) {
    members.set(from.id, from.name);
    renderMembers();
  }
  const current = startCall(from.id);
  try {
    await remoteDescription(current, sdp);
    await current.pc.setLocalDescription();
    if (call === current) socket.emit('answer', descriptionMessage(current, 'answer'));
  } catch (error) {
    showError(`Could not answer the call: ${error.message}`);
  }
});

socket.on('answer', async ({ from, sdp } = {}) => {
  const current = call;
  if (!current || current.peerId !== from?.id || current.ready || !sdp) return;
  try {
    await remoteDescription(current, sdp);
  } catch (error) {
    showError(`Could not connect the call: ${error.message}`);
  }
});

socket.on('ice-candidate', ({ from, candidate } = {}) => {
  if (!me || !from || !candidate) return;
  if (call?.peerId === from) {
    if (call.ready) addCandidate(call, candidate);
    else call.queue.push(candidate);
  } else {
    if (!early.has(from)) early.set(from, []);
    early.get(from).push(candidate);
  }
});

// Hanging up: leave the room, stop the camera, back to the start page.

hangupButton.addEventListener('click', () => {
  leaving = true;
  sessionStorage.removeItem(STORE);
  socket.emit('cut-the-call', { room_id: roomId, peer_name: me?.name ?? '', peer_id: myId });
  endCall();
  for (const track of me?.stream?.getTracks() ?? []) track.stop();
  socket.disconnect(); // socket.io's disconnect packet: a clean close, which ends the session
  location.assign('/');
});

// A reload in the room comes back to it.
const saved = recall(STORE);
if (saved?.token) comeBack(saved);
