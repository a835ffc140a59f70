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
//
// Resume (the server's Step 11): the app opts in (?resume=1), so when the
// connection drops without a clean close the server holds the session, its
// name and its call, for its resume window, tells the other party nothing,
// and queues what comes for it. The app tries again by itself with backoff
// (showing "Reconnecting…") and takes the session back with its token. The
// token, the name and the call are kept in sessionStorage, so a reload
// (Chromium closes with 1001, which the server holds too) comes back to the
// call. The reloaded page has a new peer connection: it offers from it
// (SEND_CALLER_DESCRIPTOR, whatever its role; the server relays offers both
// ways in a call), and the other page, seeing an offer from another peer
// connection, replaces its own and answers. Media between the pages does not
// go through the server, so a drop alone needs no renegotiation.

import { iceServers, localMedia, peerConnection, showRemote, setCamera } from './media.js';
import { recall, showReconnecting } from './resume.js';

const $ = (id) => document.getElementById(id);
const SCREENS = ['entry', 'idle', 'calling', 'incoming', 'call'];
const FOCUS = { entry: 'name', idle: 'callee', calling: 'cancel', incoming: 'accept', call: 'hangup' };
const CONNECT_TIMEOUT_MS = 10_000;
const TITLE = document.title;
/** The server's default --resume-window: after it, a held session is gone. */
const RESUME_WINDOW_MS = 30_000;
/** The waits between resume attempts; the last one repeats. */
const RETRY_MS = [250, 500, 1000, 2000, 4000];
/** sessionStorage key: {name, token, call: {peer, role, accepted}}, what a reload needs. */
const STORE = 'switchboard.phone';

/** The open WebSocket (connecting or connected), or null. */
let socket = null;
/** Our name once CONNECTED, else null. */
let me = null;
/** The call being set up or held, or null: see newCall. */
let call = null;
/** The session's resume token, the newest (each resume rotates it), or null. */
let token = null;
/** While winning a dropped session back: {until, attempts, timer}, else null. */
let reconnecting = null;
/** Messages sent while reconnecting: they go out once the session is back. */
let outbox = [];
/** Said once a fresh session replaced a held one that was gone, or null. */
let lostNotice = null;

// ---- screens and messages ----

function show(screen) {
  for (const id of SCREENS) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen;
  document.title = screen === 'incoming' ? `Call from ${call?.peer} — ${TITLE}` : TITLE;
  $(FOCUS[screen])?.focus();
  // Every change of name or call goes through a screen: keep what a reload needs.
  remember();
}

/** Keeps the session's name, token and call in sessionStorage (cleared without a session). */
function remember() {
  if (!me || !token) return sessionStorage.removeItem(STORE);
  const held = call && { peer: call.peer, role: call.role, accepted: call.accepted };
  sessionStorage.setItem(STORE, JSON.stringify({ name: me, token, call: held }));
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
  if (reconnecting) outbox.push({ type, payload });
  else if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type, payload }));
}

// ---- entry: connect with a name ----

$('connect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  if (name) connect(name);
});

/**
 * Opens the WebSocket: a new session as `name`, resumable (resume=1), or
 * with `resume` the held session that token names (no CONNECT: the server
 * answers CONNECTED at once).
 */
function connect(name, resume = null) {
  const query = `resume=${encodeURIComponent(resume ?? '1')}`;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chatroulette?${query}`);
  socket = ws;
  $('connect').disabled = true;
  if (!resume) say('Connecting…');
  let greeted = false;
  const timer = setTimeout(() => {
    if (socket !== ws || greeted) return;
    // A resume attempt that hangs is closed, and the next one tried.
    if (resume) ws.close();
    else failEntry('The server did not answer. Try again in a moment.');
  }, CONNECT_TIMEOUT_MS);
  ws.addEventListener('open', () => {
    if (!resume) ws.send(JSON.stringify({ type: 'CONNECT', payload: { as: name } }));
  });
  ws.addEventListener('message', (event) => {
    if (socket !== ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === 'CONNECTED') greeted = true;
    receive(message.type, message.payload ?? {});
  });
  ws.addEventListener('close', (event) => {
    clearTimeout(timer);
    if (socket !== ws) return; // closed on purpose
    socket = null;
    $('connect').disabled = false;
    if (reconnecting) return retry(event.code);
    // 1006: the connection is gone without a close frame (network, proxy,
    // a sleeping laptop); 1001 "idle timeout": the server heard nothing for
    // too long. Either way the server holds the session. Any other close
    // the server made (stopping, a limit) ends it as before.
    const dropped = event.code === 1006 || (event.code === 1001 && event.reason === 'idle timeout');
    if (me && token && dropped) return startReconnecting();
    if (me) {
      endCall();
      me = null;
      show('entry');
      warn('The server closed the connection. Connect again to make or take calls.');
    } else {
      failEntry('Could not connect to the server. Check your connection and try again.');
    }
  });
}

// ---- resume ----

/** The connection dropped: win the session back while the server holds it. */
function startReconnecting() {
  reconnecting = { until: Date.now() + RESUME_WINDOW_MS, attempts: 0, timer: null };
  showReconnecting(true);
  connect(me, token);
}

/** A resume attempt failed: try again after a while, or start afresh once the session is gone. */
function retry(code) {
  // 4004: the server refused the token (the window passed, or it was used).
  if (code === 4004 || Date.now() >= reconnecting.until) return startAfresh();
  const wait = RETRY_MS[Math.min(reconnecting.attempts, RETRY_MS.length - 1)];
  reconnecting.attempts += 1;
  reconnecting.timer = setTimeout(() => connect(me, token), wait);
}

function stopReconnecting() {
  clearTimeout(reconnecting?.timer);
  reconnecting = null;
  outbox = [];
  showReconnecting(false);
}

/** The held session is gone: a new one under the same name; a call it had is over. */
function startAfresh() {
  const name = me;
  lostNotice = call ? `The connection was down too long: the call with ${call.peer} ended.` : null;
  stopReconnecting();
  endCall();
  me = null;
  token = null;
  showReconnecting(true); // until the new session answers
  connect(name);
}

/** CONNECTED with resumed: the same session, name and call as before the drop. */
function resumed() {
  const queued = outbox;
  stopReconnecting();
  for (const { type, payload } of queued) send(type, payload);
  remember();
  if (call?.rejoin) rejoin(call);
}

/**
 * After a reload: the page comes back as the session sessionStorage names,
 * in the call it was in. Until the resume answers, the call screen (or idle)
 * shows "Reconnecting…".
 */
function comeBack(saved) {
  me = saved.name;
  token = saved.token;
  $('me').textContent = me;
  reconnecting = { until: Date.now() + RESUME_WINDOW_MS, attempts: 0, timer: null };
  showReconnecting(true);
  const held = saved.call;
  if (held?.accepted) {
    call = newCall(held.peer, held.role);
    call.accepted = true;
    call.rejoin = true;
    enterCall(call);
  } else {
    show('idle');
    // A call that was ringing cannot pick up where it was: end it.
    if (held?.role === 'caller') send('CANCEL_CALL', { to: held.peer });
    if (held?.role === 'callee') send('REJECT_CALL', { from: held.peer });
  }
  connect(me, token);
}

/**
 * The camera and microphone for call `c`, shown in the page, and the ICE
 * servers to connect with; null (the media given back) when the call ended
 * while they were asked for.
 */
async function takeMedia(c) {
  const [{ stream, error }, servers] = await Promise.all([localMedia(), iceServers()]);
  if (call !== c) {
    stream?.getTracks().forEach((t) => t.stop());
    return null;
  }
  c.stream = stream;
  c.mediaReady = true;
  $('media-error').textContent = error ?? '';
  $('local').srcObject = stream;
  return servers;
}

/**
 * The reloaded page's call: its media and a new peer connection, and an
 * offer from it, which the other page answers from a new one of its own.
 */
async function rejoin(c) {
  c.rejoin = false;
  const servers = await takeMedia(c);
  if (!servers) return;
  if (!c.stream?.getVideoTracks().length) c.cameraOn = false;
  // What came for the old page while it was away was for its peer connection.
  c.offer = null;
  c.candidates = [];
  createPeerConnection(c, servers);
  applyCamera(c);
  renderCamera(c);
  negotiate(c);
}

/** Back to the entry screen, not connected, with `text` as the error. */
function failEntry(text) {
  const ws = socket;
  socket = null;
  me = null;
  stopReconnecting();
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
  stopReconnecting();
  endCall();
  ws?.close(); // no code: a clean close, which ends the session at once
  show('entry');
  say('Disconnected.');
});

// ---- the dialect ----

function receive(type, p) {
  switch (type) {
    case 'CONNECTED':
      token = p.resume ?? null;
      if (p.resumed) return resumed();
      me = p.as;
      $('me').textContent = me;
      $('connect').disabled = false;
      showReconnecting(false);
      show('idle');
      if (lostNotice) warn(lostNotice);
      else say(`Connected. Others can call you as “${me}”.`);
      lostNotice = null;
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
    // Offers and answers go both ways once a page has reloaded (see the top).
    case 'CALLER_DESCRIPTOR_RECEIVED':
      if (isPeer(p.from)) offerReceived(p.sdp);
      break;
    case 'RECIPIENT_DESCRIPTOR_RECEIVED':
      if (isPeer(p.from)) answerReceived(p.sdp);
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
  const servers = await takeMedia(c);
  if (!servers) return;
  $('preview').srcObject = c.stream;
  if (!c.stream?.getVideoTracks().length) c.cameraOn = false;
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
  if (fromNewPeer(c.pc, sdp)) {
    // The other page reloaded: our peer connection has nobody to talk to.
    // A new one, with the same media, answers; the call goes on.
    c.pc.close();
    c.candidates = [];
    createPeerConnection(c, c.servers);
    applyCamera(c);
  }
  const pc = c.pc;
  await pc.setRemoteDescription(sdp);
  renderRemoteCamera(c, sendsVideo(sdp));
  await flushCandidates(c);
  await pc.setLocalDescription(await pc.createAnswer());
  send('SEND_RECIPIENT_DESCRIPTOR', { to: c.peer, sdp: pc.localDescription.toJSON() });
}

/**
 * Whether `offer` comes from another peer connection than the one `pc`
 * talks to: its o= line has another session id, which a peer connection
 * keeps for its whole life (RFC 3264 §5, §8). With no answer yet, an offer
 * while ours is outstanding is from a page that reloaded before answering.
 */
function fromNewPeer(pc, offer) {
  const current = pc.remoteDescription;
  if (!current) return pc.signalingState === 'have-local-offer';
  const sessionId = (sdp) => /^o=\S+ (\S+)/m.exec(sdp ?? '')?.[1];
  return sessionId(current.sdp) !== sessionId(offer?.sdp);
}

$('accept').addEventListener('click', async () => {
  const c = call;
  if (!c || c.role !== 'callee' || c.accepted) return;
  c.accepted = true;
  send('ACCEPT_CALL', { from: c.peer });
  enterCall(c);
  const servers = await takeMedia(c);
  if (!servers) return;
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
  c.servers = servers; // for a new peer connection if the other page reloads
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
    if (c.pc.remoteDescription) await addCandidate(c.pc, candidate);
    else c.candidates.push(candidate);
  });
}

async function flushCandidates(c) {
  const queued = c.candidates.splice(0);
  for (const candidate of queued) await addCandidate(c.pc, candidate);
}

/** A candidate of a peer connection that is gone (the other page reloaded) is refused: not a failure of the call. */
async function addCandidate(pc, candidate) {
  try {
    await pc.addIceCandidate(candidate);
  } catch (error) {
    console.warn('ICE candidate refused', error);
  }
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

// A reload comes back to the session it had; otherwise the entry screen.
const saved = recall(STORE);
if (saved?.token && saved.name) comeBack(saved);
else show('entry');
