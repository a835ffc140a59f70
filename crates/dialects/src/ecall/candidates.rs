//! Folding trickled ICE candidates into an SDP, for a Wire device: ECall
//! carries whole SDPs in `SETUP` and has no trickle ICE (seed 004), so what
//! another app trickles after its answer is written into the answer as
//! `a=candidate` lines (RFC 8839 section 5.1) before it goes out.

use serde::Deserialize;

/// Longest candidate line taken, in bytes: a real one (RFC 8839's grammar,
/// with an IPv6 address, a related address and extensions) is well under
/// 300.
pub(super) const MAX_CANDIDATE_BYTES: usize = 512;

/// One trickled candidate, as the core carries it: an
/// `RTCIceCandidateInit` (`{"candidate":"candidate:…","sdpMid":"0","sdpMLineIndex":0}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    /// The attribute's value, `candidate:…`, without the `a=`.
    line: String,
    /// The media section it belongs to, by index.
    mline_index: Option<usize>,
    /// The media section it belongs to, by `a=mid`.
    mid: Option<String>,
}

/// What one trickled ICE message says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Trickle {
    /// A candidate.
    Candidate(Candidate),
    /// The sender has gathered all its candidates: a `null` candidate, or
    /// one with an empty `candidate` (what a browser's last
    /// `icecandidate` event gives).
    End,
    /// Not an `RTCIceCandidateInit`.
    Unreadable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidateInit {
    #[serde(default)]
    candidate: Option<String>,
    #[serde(default)]
    sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    sdp_mline_index: Option<usize>,
}

impl Trickle {
    /// Reads an ICE candidate signal's payload (JSON text).
    pub(super) fn read(payload: &str) -> Self {
        let Ok(init) = serde_json::from_str::<Option<CandidateInit>>(payload) else { return Trickle::Unreadable };
        let Some(CandidateInit { candidate: Some(line), sdp_mid, sdp_mline_index }) = init else { return Trickle::End };
        let line = line.trim();
        if line.is_empty() {
            return Trickle::End;
        }
        // One SDP line: a candidate holding a line break would add lines of
        // its own choosing to the SDP.
        if !line.starts_with("candidate:") || line.contains(['\r', '\n']) || line.len() > MAX_CANDIDATE_BYTES {
            return Trickle::Unreadable;
        }
        Trickle::Candidate(Candidate { line: line.to_owned(), mline_index: sdp_mline_index, mid: sdp_mid })
    }
}

/// `sdp` with every candidate's `a=` line at the end of its media section
/// (by `sdpMLineIndex`, else by `sdpMid` against the sections' `a=mid`,
/// else the first section), and, when `ended`, an `a=end-of-candidates` in
/// every section. Line endings follow the SDP's own (CRLF as RFC 8866 has
/// it, or bare LF). An SDP with no media section is given back unchanged.
pub(super) fn fold(sdp: &str, candidates: &[Candidate], ended: bool) -> String {
    let newline = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = sdp.split(newline).filter(|line| !line.is_empty()).collect();
    // Each media section's first line, and the `a=mid` it names.
    let starts: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with("m=")).map(|(i, _)| i).collect();
    if starts.is_empty() {
        return sdp.to_owned();
    }
    let mids: Vec<Option<&str>> = starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(lines.len());
            lines[start..end].iter().find_map(|line| line.strip_prefix("a=mid:"))
        })
        .collect();
    let section_of = |candidate: &Candidate| {
        candidate
            .mline_index
            .filter(|&index| index < starts.len())
            .or_else(|| candidate.mid.as_deref().and_then(|mid| mids.iter().position(|m| *m == Some(mid))))
            .unwrap_or(0)
    };
    let mut out = String::with_capacity(sdp.len() + candidates.len() * 96);
    for (n, &start) in starts.iter().enumerate() {
        if n == 0 {
            for line in &lines[..start] {
                push_line(&mut out, line, newline);
            }
        }
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        for line in &lines[start..end] {
            push_line(&mut out, line, newline);
        }
        for candidate in candidates.iter().filter(|candidate| section_of(candidate) == n) {
            out.push_str("a=");
            push_line(&mut out, &candidate.line, newline);
        }
        if ended {
            push_line(&mut out, "a=end-of-candidates", newline);
        }
    }
    out
}

fn push_line(out: &mut String, line: &str, newline: &str) {
    out.push_str(line);
    out.push_str(newline);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";

    fn candidate(json: &str) -> Candidate {
        match Trickle::read(json) {
            Trickle::Candidate(candidate) => candidate,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn candidates_go_to_their_media_sections_by_index_or_mid() {
        let audio = candidate(
            r#"{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50001 typ host","sdpMid":"0","sdpMLineIndex":0}"#,
        );
        let video = candidate(r#"{"candidate":"candidate:2 1 udp 2122260223 127.0.0.1 50002 typ host","sdpMid":"1"}"#);
        let folded = fold(ANSWER, &[video, audio], true);
        assert_eq!(
            folded,
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
             a=candidate:1 1 udp 2122260223 127.0.0.1 50001 typ host\r\na=end-of-candidates\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
             a=candidate:2 1 udp 2122260223 127.0.0.1 50002 typ host\r\na=end-of-candidates\r\n"
        );
    }

    #[test]
    fn without_end_of_candidates_only_the_candidates_are_added() {
        let one = candidate(r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 1 typ host","sdpMLineIndex":7}"#);
        let folded = fold("v=0\nm=audio 9 RTP/AVP 0\n", &[one], false);
        // An index past the sections falls back to the first.
        assert_eq!(folded, "v=0\nm=audio 9 RTP/AVP 0\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\n");
    }

    #[test]
    fn the_last_trickle_message_and_hostile_ones_are_told_apart() {
        assert_eq!(Trickle::read("null"), Trickle::End);
        assert_eq!(Trickle::read(r#"{"candidate":"","sdpMid":"0"}"#), Trickle::End);
        assert_eq!(Trickle::read("[1]"), Trickle::Unreadable);
        assert_eq!(Trickle::read(r#"{"candidate":"a=evil"}"#), Trickle::Unreadable);
        assert_eq!(Trickle::read(r#"{"candidate":"candidate:1\r\nm=evil"}"#), Trickle::Unreadable);
        assert_eq!(fold("v=0\r\n", &[], true), "v=0\r\n", "no media section: unchanged");
    }
}
