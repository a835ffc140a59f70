//! SDPs and ICE candidates for the cross-dialect tests, in the browser's
//! shapes and in CloudKibo's.

use serde_json::{Value, json};

/// An `RTCSessionDescriptionInit` of `kind` ("offer" or "answer").
pub fn sdp(kind: &str) -> Value {
    json!({"type": kind, "sdp": sdp_text(kind)})
}

/// The SDP text of [`sdp`]: one audio section, so that ICE candidates have
/// a place when folded in (ecall).
pub fn sdp_text(kind: &str) -> String {
    format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns={kind}\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n")
}

/// An `RTCIceCandidateInit`, numbered `n`.
pub fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0", "sdpMLineIndex": 0})
}

/// CloudKibo's form of a candidate inside `msg`: the browser's fields plus
/// `type: "candidate"` (Android `WebRtcClient.onIceCandidate`).
pub fn kibo_candidate(n: u32) -> Value {
    let mut ice = candidate(n);
    ice["type"] = json!("candidate");
    ice
}

/// cloudkibo's call status message `{callerphone, calleephone, type: "call", status}`.
pub fn kibo_status(callerphone: &str, calleephone: &str, status: &str) -> Value {
    json!({"callerphone": callerphone, "calleephone": calleephone, "type": "call", "status": status})
}
