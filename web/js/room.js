// The room app (seed 001, Tring-Tring) over switchboard's tringtring
// dialect: join a two-person room by name, see who is in it, and call the
// other person. The one already in the room makes the offer when someone
// arrives; ICE candidates trickle both ways.

import { iceServers, localMedia, peerConnection, showRemote } from '/js/media.js';

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
const socket = io({ autoConnect: false });

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
    members.clear();
    for (const peer of answer?.peers ?? []) {
      if (peer.peer_id !== socket.id) members.set(peer.peer_id, peer.peer_name);
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
  status('');
  showError(payload?.message ?? String(payload));
  if (!me) joinButton.disabled = false;
});

socket.on('disconnect', () => {
  if (me && !leaving) showError('Lost the connection to the server. Reload the page to join again.');
});

// Who is in the room. The server sends both user-arrived (the seed's name)
// and user-joined (the original's) for each newcomer: the first one counts.

function arrived({ peer_name: name, peer_id: peerId } = {}) {
  if (!me || !peerId || peerId === socket.id || members.has(peerId)) return;
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
  showRemote(remoteVideo, pc);
  remoteCaption.textContent = `Waiting for video from ${nameOf(peerId)}`;
  pc.addEventListener('track', (event) => {
    event.track.addEventListener('unmute', () => {
      if (call === current) remoteCaption.textContent = nameOf(peerId);
    });
  });
  pc.addEventListener('icecandidate', (event) => {
    if (event.candidate) socket.emit('ice-candidate', { from: socket.id, to: peerId, candidate: event.candidate.toJSON() });
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
  return { from: { name: me.name, id: socket.id }, to: current.peerId, type, sdp: current.pc.localDescription.toJSON() };
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
  socket.emit('cut-the-call', { room_id: roomId, peer_name: me?.name ?? '', peer_id: socket.id });
  endCall();
  for (const track of me?.stream?.getTracks() ?? []) track.stop();
  socket.disconnect();
  location.assign('/');
});
