// The phone app (/call/): call a person by name over the chatroulette
// dialect (seed 002), in the seed's long spelling: {"type": T, "payload": P}
// on ws(s)://<host>/ws/chatroulette.
//
// Screens: entry (pick a name) → idle (you are X; call someone) → calling
// (waiting for the answer) or incoming (accept / reject) → call (the other
// side's video, waiting until media flows) → back to idle. If the server
// closes the connection, back to entry with a message.
//
// The video switch (seed 000: the caller can switch video on or off while
// the callee's phone rings, and the callee is told). Chatroulette has no
// message of its own for this, and switchboard relays nothing but session
// descriptors and ICE candidates, so the switch travels the standard WebRTC
// way, in the session description:
//
//  - The caller asks for its media and sends its offer (SEND_CALLER_DESCRIPTOR)
//    as soon as it has sent REQUEST_CALL, while the other phone rings: the
//    server relays descriptors and candidates between the parties of a
//    ringing call. The callee keeps the latest offer and the candidates
//    (no peer connection yet) and reads the video direction from the offer,
//    so its ringing screen says "video call" or "voice call, camera off".
//  - Switching the camera is `setCamera` (the local track is disabled, no
//    black frames leave unnoticed) plus the video transceiver's direction
//    (sendrecv with the camera on, recvonly with it off), and a new offer.
//    While ringing the new offer replaces the unanswered one; in the call it
//    is a renegotiation the callee answers (SEND_RECIPIENT_DESCRIPTOR).
//  - Each side reads the other's camera state from the remote description's
//    m=video direction: a=sendrecv / a=sendonly means the camera is on. In a
//    call the browser also mutes the remote video track when the sender
//    stops sending (and unmutes it when media flows again).
//
// Only the caller switches: the dialect's offers are the caller's
// ("SEND_CALLER_DESCRIPTOR"), so only the caller renegotiates. A callee
// without a camera answers recvonly, and the caller sees its camera as off.

import { iceServers, localMedia, peerConnection, showRemote, setCamera } from './media.js';

const $ = (id) => document.getElementById(id);
const SCREENS = ['entry', 'idle', 'calling', 'incoming', 'call'];
const FOCUS = { entry: 'name', idle: 'callee', calling: 'cancel', incoming: 'accept', call: 'hangup' };
const CONNECT_TIMEOUT_MS = 10_000;
const TITLE = document.title;

/** The open WebSocket (connecting or connected), or null. */
let socket = null;
/** Our name once CONNECTED, else null. */
let me = null;
/** The call being set up or held, or null: see newCall. */
let call = null;

// ---- screens and messages ----

function show(screen) {
  for (const id of SCREENS) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen;
  document.title = screen === 'incoming' ? `Call from ${call?.peer} — ${TITLE}` : TITLE;
  $(FOCUS[screen])?.focus();
}

/** A piece of news (role=status); clears any error. */
function say(text) {
  $('alert').textContent = '';
  $('status').textContent = text;
}

/** Something went wrong or did not happen (role=alert). */
function warn(text) {
  $('status').textContent = '';
  $('alert').textContent = text;
}

function send(type, payload) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type, payload }));
}

// ---- entry: connect with a name ----

$('connect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  if (name) connect(name);
});

function connect(name) {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chatroulette`);
  socket = ws;
  $('connect').disabled = true;
  say('Connecting…');
  const timer = setTimeout(() => {
    if (socket === ws && !me) failEntry('The server did not answer. Try again in a moment.');
  }, CONNECT_TIMEOUT_MS);
  ws.addEventListener('open', () => send('CONNECT', { as: name }));
  ws.addEventListener('message', (event) => {
    if (socket !== ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    receive(message.type, message.payload ?? {});
  });
  ws.addEventListener('close', () => {
    clearTimeout(timer);
    if (socket !== ws) return; // closed on purpose
    socket = null;
    if (me) {
      endCall();
      me = null;
      show('entry');
      warn('The server closed the connection. Connect again to make or take calls.');
    } else {
      failEntry('Could not connect to the server. Check your connection and try again.');
    }
    $('connect').disabled = false;
  });
}

/** Back to the entry screen, not connected, with `text` as the error. */
function failEntry(text) {
  const ws = socket;
  socket = null;
  me = null;
  ws?.close();
  $('connect').disabled = false;
  show('entry');
  warn(text);
  $('name').select();
}

$('disconnect').addEventListener('click', () => {
  const ws = socket;
  socket = null;
  me = null;
  endCall();
  ws?.close();
  show('entry');
  say('Disconnected.');
});

// ---- the dialect ----

function receive(type, p) {
  switch (type) {
    case 'CONNECTED':
      me = p.as;
      $('me').textContent = me;
      $('connect').disabled = false;
      show('idle');
      say(`Connected. Others can call you as “${me}”.`);
      break;
    case 'USERNAME_TAKEN':
      failEntry(`The name “${p.as}” is taken. Pick another one.`);
      break;
    case 'UNKNOWN_RECIPIENT':
      if (call?.role === 'caller' && call.peer === p.to) toIdle(warn, `Nobody called “${p.to}” is connected.`);
      break;
    case 'CALL_REQUESTED':
      incoming(p.from);
      break;
    case 'CALL_ACCEPTED':
      if (isPeer(p.by) && call.role === 'caller') accepted();
      break;
    case 'CALL_REJECTED':
      if (isPeer(p.by)) toIdle(warn, rejection(p.by, p.reason));
      break;
    case 'CALL_CANCELLED':
      if (isPeer(p.by)) toIdle(warn, cancellation(p.by, p.reason));
      break;
    case 'CALL_ENDED':
      if (isPeer(p.by)) toIdle(say, p.reason === 'disconnected' ? `${p.by} was disconnected. The call ended.` : `${p.by} hung up. The call ended.`);
      break;
    case 'CALLER_DESCRIPTOR_RECEIVED':
      if (isPeer(p.from) && call.role === 'callee') offerReceived(p.sdp);
      break;
    case 'RECIPIENT_DESCRIPTOR_RECEIVED':
      if (isPeer(p.from) && call.role === 'caller') answerReceived(p.sdp);
      break;
    case 'ICE_CANDIDATE_RECEIVED':
      if (isPeer(p.from)) candidateReceived(p.candidate);
      break;
    case 'ERROR':
      refused(p);
      break;
  }
}

function isPeer(name) {
  return call !== null && call.peer === name;
}

function rejection(by, reason) {
  switch (reason) {
    case 'busy': return `${by} is busy in another call. Try again later.`;
    case 'timeout': return `${by} did not answer.`;
    case 'disconnected': return `${by} went offline.`;
    default: return `${by} rejected the call.`;
  }
}

function cancellation(by, reason) {
  switch (reason) {
    case 'timeout': return `You missed a call from ${by}.`;
    case 'disconnected': return `${by} went offline before you answered.`;
    default: return `${by} cancelled the call.`;
  }
}

/** An ERROR from the server: fatal while connecting, shown for a call request, logged otherwise. */
function refused({ message, request }) {
  if (!me) return failEntry(`The server refused the name: ${message}`);
  if (request === 'REQUEST_CALL' && call?.role === 'caller' && !call.accepted) return toIdle(warn, `The call could not be made: ${message}`);
  // A relay that arrived after the call ended, and the like: nothing to show.
  console.warn('switchboard refused', request, message);
}

// ---- idle: call someone ----

$('call-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const peer = $('callee').value.trim();
  if (!peer || call) return;
  if (peer === me) return warn('That is you. Enter the name of someone else.');
  startCall(peer);
});

/** A fresh call record. */
function newCall(peer, role) {
  return { peer, role, accepted: false, pc: null, stream: null, mediaReady: false, offer: null, candidates: [], queue: Promise.resolve(), cameraOn: true, renegotiate: false };
}

/** Runs `step` after the call's earlier signaling steps, so offers, answers and candidates apply in order. */
function enqueue(c, step) {
  c.queue = c.queue.then(() => (call === c ? step() : undefined)).catch((error) => {
    console.error(error);
    if (call === c) $('media-error').textContent = `The call setup failed: ${error.message}`;
  });
}

async function startCall(peer) {
  const c = (call = newCall(peer, 'caller'));
  send('REQUEST_CALL', { to: peer });
  $('calling-who').textContent = peer;
  renderCamera(c);
  show('calling');
  say('');
  // The offer goes out while the other phone rings, so the callee learns
  // whether this is a video call (see the top of this file).
  const [{ stream, error }, servers] = await Promise.all([localMedia(), iceServers()]);
  if (call !== c) return stream?.getTracks().forEach((t) => t.stop());
  c.stream = stream;
  c.mediaReady = true;
  $('media-error').textContent = error ?? '';
  $('preview').srcObject = stream;
  $('local').srcObject = stream;
  if (!stream?.getVideoTracks().length) c.cameraOn = false;
  createPeerConnection(c, servers);
  applyCamera(c);
  renderCamera(c);
  negotiate(c);
}

$('cancel').addEventListener('click', () => {
  if (!call || call.role !== 'caller') return;
  send('CANCEL_CALL', { to: call.peer });
  toIdle(say, 'Call cancelled.');
});

/** CALL_ACCEPTED: the call view, the other side's video waiting until media flows. */
function accepted() {
  call.accepted = true;
  enterCall(call);
}

/** Sends an offer now, or once the outstanding one is answered. */
function negotiate(c) {
  enqueue(c, async () => {
    const pc = c.pc;
    if (!pc) return; // the offer goes out when the peer connection exists
    // In a call, wait for the answer to the outstanding offer first. While
    // ringing nothing has been answered: a new offer replaces the old one.
    if (c.accepted && pc.signalingState === 'have-local-offer') {
      c.renegotiate = true;
      return;
    }
    await pc.setLocalDescription(await pc.createOffer());
    send('SEND_CALLER_DESCRIPTOR', { to: c.peer, sdp: pc.localDescription.toJSON() });
  });
}

function answerReceived(sdp) {
  const c = call;
  enqueue(c, async () => {
    const pc = c.pc;
    // No offer outstanding: the camera was switched just as the callee
    // accepted, so the callee answered both the replaced offer and the new
    // one; the first answer already completed the exchange.
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription(sdp);
    renderRemoteCamera(c, sendsVideo(sdp));
    await flushCandidates(c);
    if (c.renegotiate) {
      c.renegotiate = false;
      negotiate(c);
    }
  });
}

// ---- incoming call ----

function incoming(from) {
  if (call) {
    // Already in a call of our own: the server counts us busy only once we ring or talk.
    send('REJECT_CALL', { from });
    return;
  }
  call = newCall(from, 'callee');
  $('incoming-who').textContent = from;
  renderIncomingKind(null);
  show('incoming');
  say('');
}

/** CALLER_DESCRIPTOR_RECEIVED: kept while ringing (it says whether the caller's camera is on), applied in the call. */
function offerReceived(sdp) {
  const c = call;
  if (!c.pc) {
    c.offer = sdp;
    renderIncomingKind(sendsVideo(sdp));
    return;
  }
  enqueue(c, () => applyOffer(c, sdp));
}

async function applyOffer(c, sdp) {
  const pc = c.pc;
  await pc.setRemoteDescription(sdp);
  renderRemoteCamera(c, sendsVideo(sdp));
  await flushCandidates(c);
  await pc.setLocalDescription(await pc.createAnswer());
  send('SEND_RECIPIENT_DESCRIPTOR', { to: c.peer, sdp: pc.localDescription.toJSON() });
}

$('accept').addEventListener('click', async () => {
  const c = call;
  if (!c || c.role !== 'callee' || c.accepted) return;
  c.accepted = true;
  send('ACCEPT_CALL', { from: c.peer });
  enterCall(c);
  const [{ stream, error }, servers] = await Promise.all([localMedia(), iceServers()]);
  if (call !== c) return stream?.getTracks().forEach((t) => t.stop());
  c.stream = stream;
  c.mediaReady = true;
  $('media-error').textContent = error ?? '';
  $('local').srcObject = stream;
  renderCamera(c);
  createPeerConnection(c, servers);
  if (c.offer) {
    const offer = c.offer;
    c.offer = null;
    enqueue(c, () => applyOffer(c, offer));
  }
});

$('reject').addEventListener('click', () => {
  if (!call || call.role !== 'callee' || call.accepted) return;
  send('REJECT_CALL', { from: call.peer });
  toIdle(say, `You rejected the call from ${call.peer}.`);
});

// ---- in call ----

function createPeerConnection(c, servers) {
  const pc = peerConnection(servers, c.stream);
  c.pc = pc;
  pc.addEventListener('icecandidate', ({ candidate }) => {
    if (candidate && call === c) send('SEND_ICE_CANDIDATE', { to: c.peer, candidate: candidate.toJSON() });
  });
  pc.addEventListener('connectionstatechange', () => {
    if (call !== c) return;
    $('call').dataset.connection = pc.connectionState;
    if (pc.connectionState === 'connected') say(`Connected to ${c.peer}.`);
    if (pc.connectionState === 'failed') warn(`The connection to ${c.peer} failed. Hang up and call again.`);
  });
  const remote = $('remote');
  showRemote(remote, pc);
  pc.addEventListener('track', ({ track }) => {
    if (track.kind !== 'video') return;
    // Mirrors the browser's view of the remote video: muted while nothing arrives.
    const mark = () => { if (call === c) $('remote-box').dataset.track = track.muted ? 'muted' : 'live'; };
    track.addEventListener('mute', mark);
    track.addEventListener('unmute', mark);
    mark();
  });
  return pc;
}

function candidateReceived(candidate) {
  const c = call;
  if (!c.pc) {
    c.candidates.push(candidate); // ringing, or media not ready yet
    return;
  }
  enqueue(c, async () => {
    if (c.pc.remoteDescription) await c.pc.addIceCandidate(candidate);
    else c.candidates.push(candidate);
  });
}

async function flushCandidates(c) {
  const queued = c.candidates.splice(0);
  for (const candidate of queued) await c.pc.addIceCandidate(candidate);
}

function enterCall(c) {
  $('call-who').textContent = c.peer;
  $('remote-caption').textContent = c.peer;
  $('remote-camera-off').textContent = `${c.peer}’s camera is off`;
  if (!c.pc) {
    const remote = $('remote');
    remote.srcObject = null;
    remote.dataset.state = 'waiting';
  }
  $('remote-box').dataset.camera = 'on';
  delete $('remote-box').dataset.track;
  renderCamera(c);
  show('call');
  say(`Connecting to ${c.peer}…`);
}

$('hangup').addEventListener('click', () => {
  if (!call) return;
  send('HANG_UP', { to: call.peer });
  toIdle(say, 'Call ended.');
});

// ---- the camera switch (caller) ----

for (const button of document.querySelectorAll('.camera-toggle')) {
  button.addEventListener('click', () => {
    const c = call;
    if (!c || c.role !== 'caller' || !c.pc || !c.stream?.getVideoTracks().length) return;
    c.cameraOn = !c.cameraOn;
    applyCamera(c);
    renderCamera(c);
    negotiate(c);
  });
}

/** The local track on or off, and the video transceiver sending or not (the direction the next offer carries). */
function applyCamera(c) {
  setCamera(c.stream, c.cameraOn);
  const video = c.pc?.getTransceivers().find((t) => t.receiver.track.kind === 'video');
  if (video && c.stream?.getVideoTracks().length) video.direction = c.cameraOn ? 'sendrecv' : 'recvonly';
}

function renderCamera(c) {
  // The caller's switch shows until its media is known, and stays if it has a camera.
  const hasCamera = c.role === 'caller' && (!c.mediaReady || (c.stream?.getVideoTracks().length ?? 0) > 0);
  const on = c.role === 'caller' ? c.cameraOn : (c.stream?.getVideoTracks().length ?? 0) > 0;
  for (const box of document.querySelectorAll('#calling .video, #local-box')) box.dataset.camera = on ? 'on' : 'off';
  for (const button of document.querySelectorAll('.camera-toggle')) {
    button.hidden = !hasCamera;
    button.disabled = !c.pc;
    // A toggle button: its name stays "Camera", aria-pressed says whether it is on.
    button.setAttribute('aria-pressed', String(on));
    button.querySelector('.camera-state').textContent = on ? ': on' : ': off';
    button.title = on ? 'Switch your camera off' : 'Switch your camera on';
  }
}

function renderIncomingKind(video) {
  const kind = $('incoming-kind');
  const peer = call.peer;
  kind.dataset.camera = video === null ? 'unknown' : video ? 'on' : 'off';
  kind.textContent = video === null ? 'Incoming call' : video ? `Video call: ${peer}’s camera is on` : `Voice call: ${peer}’s camera is off`;
}

function renderRemoteCamera(c, video) {
  if (call !== c) return;
  $('remote-box').dataset.camera = video ? 'on' : 'off';
}

/**
 * Whether a session description sends video: its m=video section is not
 * rejected (port 0) and its direction is sendrecv (the default) or sendonly.
 */
export function sendsVideo(description) {
  const sections = (description?.sdp ?? '').split(/\r?\n(?=m=)/);
  const video = sections.find((section) => section.startsWith('m=video'));
  if (!video || /^m=video 0 /.test(video)) return false;
  const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(video)?.[1] ?? 'sendrecv';
  return direction === 'sendrecv' || direction === 'sendonly';
}

// ---- back to idle ----

/** Drops the call, if any: the peer connection closed, the camera released. */
function endCall() {
  const c = call;
  call = null;
  if (!c) return;
  c.pc?.close();
  c.stream?.getTracks().forEach((t) => t.stop());
  for (const id of ['preview', 'local', 'remote']) $(id).srcObject = null;
  $('media-error').textContent = '';
  delete $('call').dataset.connection;
}

/** The call is over: idle, with `text` said by `how` (say or warn). */
function toIdle(how, text) {
  endCall();
  show(me ? 'idle' : 'entry');
  how(text);
}

show('entry');
