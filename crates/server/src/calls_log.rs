//! One log line per call at its end, and a debug line for each step before,
//! all inside a `call` span whose `call_id` field every line of the call
//! carries, in text and JSON output alike.

use switchboard_core::{CallNote, CallOutcome, CallParty, CallStage};
use switchboard_dialects::codec::Dialect;

use crate::metrics::dialect_label;

/// Logs `note`; the parties speak `caller` and `callee`. Users are named
/// only when `user_names` (`--log-user-names`): by default a line names
/// sessions, which identify nobody outside this node's logs.
pub(crate) fn log(note: &CallNote, caller: Option<Dialect>, callee: Option<Dialect>, user_names: bool) {
    let span = tracing::info_span!("call", call_id = %note.call);
    let _in_call = span.enter();
    let session = |party: &CallParty| party.session.map(|s| s.to_string()).unwrap_or_default();
    let (caller_session, callee_session) = (session(&note.caller), session(&note.callee));
    let (caller_dialect, callee_dialect) = (dialect_label(caller), dialect_label(callee));
    let (caller_user, callee_user) = match user_names {
        true => (Some(note.caller.user.as_str()), Some(note.callee.user.as_str())),
        false => (None, None),
    };
    match &note.stage {
        CallStage::Ringing => tracing::debug!(caller_dialect, callee_dialect, caller_session, "call ringing"),
        CallStage::RingEnded { outcome: CallOutcome::Answered, rang } => {
            tracing::debug!(callee_session, setup_ms = rang.as_millis() as u64, "call answered");
        }
        CallStage::RingEnded { outcome, rang } => tracing::info!(
            caller_dialect,
            callee_dialect,
            caller_session,
            callee_session,
            caller_user,
            callee_user,
            outcome = outcome.as_str(),
            reason = outcome.as_str(),
            rang_ms = rang.as_millis() as u64,
            "call ended"
        ),
        CallStage::Ended { reason, rang, lasted, first_ice } => tracing::info!(
            caller_dialect,
            callee_dialect,
            caller_session,
            callee_session,
            caller_user,
            callee_user,
            outcome = CallOutcome::Answered.as_str(),
            reason = reason.as_str(),
            setup_ms = rang.as_millis() as u64,
            lasted_ms = lasted.as_millis() as u64,
            first_ice_ms = first_ice.map(|ice| ice.as_millis() as u64),
            "call ended"
        ),
    }
}
