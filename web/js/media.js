// What both apps share: the ICE servers, the local camera and microphone,
// and the peer connection. Plain ES module, no build step.

/** The RTCConfiguration.iceServers the server gives (GET /api/config). */
export async function iceServers() {
  try {
    const response = await fetch('/api/config');
    return (await response.json()).iceServers ?? [];
  } catch {
    return [];
  }
}

/**
 * The local camera and microphone. Resolves to {stream, error}: with a denied
 * or missing device, stream is what could be had (audio only, or null) and
 * error says why in words a person understands. The call still connects to
 * receive.
 */
export async function localMedia() {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: true }), error: null };
  } catch (first) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      return { stream, error: `No camera: ${explain(first)} You can still talk and watch.` };
    } catch (second) {
      return { stream: null, error: `No camera or microphone: ${explain(second)} You can still watch and listen.` };
    }
  }
}

function explain(error) {
  switch (error?.name) {
    case 'NotAllowedError': return 'access was denied.';
    case 'NotFoundError': return 'none was found.';
    case 'NotReadableError': return 'it is in use by another program.';
    default: return `${error?.message ?? error}.`;
  }
}

/**
 * A peer connection with the local tracks added (or receive-only
 * transceivers where a track is missing), exposed as window.switchboardCall
 * so tests can read its state and stats.
 */
export function peerConnection(servers, stream) {
  const pc = new RTCPeerConnection({ iceServers: servers });
  for (const kind of ['audio', 'video']) {
    const track = stream?.getTracks().find((t) => t.kind === kind);
    if (track) pc.addTrack(track, stream);
    else pc.addTransceiver(kind, { direction: 'recvonly' });
  }
  window.switchboardCall = pc;
  return pc;
}

/** Shows `stream` in `video` once it has media; until then the element is marked waiting. */
export function showRemote(video, pc) {
  video.dataset.state = 'waiting';
  const remote = new MediaStream();
  video.srcObject = remote;
  pc.addEventListener('track', (event) => {
    remote.addTrack(event.track);
    event.track.addEventListener('unmute', () => { video.dataset.state = 'playing'; });
  });
}

/** Turns the local camera on or off without renegotiating. */
export function setCamera(stream, on) {
  for (const track of stream?.getVideoTracks() ?? []) track.enabled = on;
}
