//! What the chaos run shows, from its calls and what was done to the
//! cluster meanwhile: each call is put in one of three classes by whether
//! a node of its parties, or Redis, went down while it ran, and each class
//! is checked for what it must show.
//!
//! - A call whose parties' nodes stayed up, with Redis up, must be clean:
//!   hung up as planned, every message delivered once and in order.
//! - A call may lose a party only when that party's node was killed, and
//!   (in a dialect whose server knows the call) the other party must hear
//!   that its peer is gone within the time it was given.
//! - A call that overlapped the Redis restart is reported, not judged:
//!   what crosses nodes then may be lost (`docs/cluster.md`, "Failures").

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::calls::{Ending, Record, Side, tells_peer_gone};
use crate::soak::ledger::Tally;

/// Something done to the cluster, in seconds since the run began.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Incident {
    /// Node `node` was killed with SIGKILL.
    NodeKilled { node: usize, at_s: f64 },
    /// Node `node` was started again and is ready.
    NodeBack { node: usize, at_s: f64 },
    /// Redis was killed with SIGKILL.
    RedisKilled { at_s: f64 },
    /// Redis was started again, empty, and answers.
    RedisBack { at_s: f64 },
}

/// When each kind of outage lasted.
struct Outages {
    /// Per node: from its kill until it was ready again.
    nodes: BTreeMap<usize, Vec<(f64, f64)>>,
    /// From Redis's kill until every node has announced itself again.
    redis: Vec<(f64, f64)>,
}

impl Outages {
    /// `redis_settle`: how long after Redis is back the nodes take to
    /// announce themselves and claim their names again.
    fn of(incidents: &[Incident], redis_settle: f64) -> Self {
        let mut nodes: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        let mut redis = Vec::new();
        for incident in incidents {
            match *incident {
                Incident::NodeKilled { node, at_s } => nodes.entry(node).or_default().push((at_s, f64::INFINITY)),
                Incident::NodeBack { node, at_s } => {
                    if let Some(last) = nodes.entry(node).or_default().last_mut() {
                        last.1 = at_s;
                    }
                }
                Incident::RedisKilled { at_s } => redis.push((at_s, f64::INFINITY)),
                Incident::RedisBack { at_s } => {
                    if let Some(last) = redis.last_mut() {
                        last.1 = at_s + redis_settle;
                    }
                }
            }
        }
        Self { nodes, redis }
    }

    /// The first kill of `node` while `[from, to]` ran, if any.
    fn node_down(&self, node: usize, from: f64, to: f64) -> Option<f64> {
        self.nodes.get(&node)?.iter().find(|&&(down, up)| overlaps((down, up), from, to)).map(|&(down, _)| down)
    }

    fn redis_down(&self, from: f64, to: f64) -> bool {
        self.redis.iter().any(|&window| overlaps(window, from, to))
    }
}

fn overlaps((down, up): (f64, f64), from: f64, to: f64) -> bool {
    down <= to && from <= up
}

/// The class of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Exposure {
    /// No node of its parties, and not Redis, went down while it ran.
    Untouched,
    /// A node of its parties was killed at `killed_at_s` while it ran.
    PartyNodeKilled { killed_at_s: f64 },
    /// Only Redis went down while it ran.
    RedisRestart,
}

fn exposure(record: &Record, outages: &Outages) -> Exposure {
    let (from, to) = (record.started_s, record.ended_s);
    let killed = [record.caller_node, record.callee_node]
        .into_iter()
        .filter_map(|node| outages.node_down(node, from, to))
        .reduce(f64::min);
    match killed {
        Some(killed_at_s) => Exposure::PartyNodeKilled { killed_at_s },
        None if outages.redis_down(from, to) => Exposure::RedisRestart,
        None => Exposure::Untouched,
    }
}

/// Calls of one class, summed.
#[derive(Debug, Default, serde::Serialize)]
struct ClassTotals {
    calls: u64,
    hung_up: u64,
    failed: u64,
    lost_a_party: u64,
    lost_both: u64,
    messages: Tally,
}

impl ClassTotals {
    fn add(&mut self, record: &Record) {
        self.calls += 1;
        match record.ending {
            Ending::HungUp => self.hung_up += 1,
            Ending::Failed { .. } => self.failed += 1,
            Ending::PartyLost { .. } => self.lost_a_party += 1,
            Ending::BothLost { .. } => self.lost_both += 1,
        }
        self.messages.add(record.messages);
    }
}

/// How soon the parties left alone heard that their peer was gone.
#[derive(Debug, Default, serde::Serialize)]
struct Told {
    /// Calls whose one party lost its connection to a killed node, in a
    /// dialect whose server tells the other.
    calls: u64,
    told: u64,
    not_told: u64,
    /// Seconds from the kill until the other party heard, sorted.
    #[serde(skip)]
    after_s: Vec<f64>,
}

/// Failures shown per check, at most.
const EXAMPLES: usize = 5;

/// Judges the run: its report, and the checks that failed.
pub fn judge(records: &[Record], incidents: &[Incident], redis_settle_s: f64) -> (Value, Vec<String>) {
    let outages = Outages::of(incidents, redis_settle_s);
    let mut classes: BTreeMap<&str, ClassTotals> = BTreeMap::new();
    let mut told_by_dialect: BTreeMap<&str, Told> = BTreeMap::new();
    let (mut unclean, mut stray_losses, mut untold) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        let class = exposure(record, &outages);
        let name = match class {
            Exposure::Untouched => "untouched",
            Exposure::PartyNodeKilled { .. } => "party_node_killed",
            Exposure::RedisRestart => "redis_restart",
        };
        classes.entry(name).or_default().add(record);
        match (class, &record.ending) {
            (Exposure::Untouched, Ending::HungUp) if record.messages.is_clean() => {}
            (Exposure::Untouched, _) => unclean.push(record),
            (Exposure::PartyNodeKilled { killed_at_s }, Ending::PartyLost { side, at_s, told_at_s, .. }) => {
                let side_node = record.node_of(*side);
                if outages.node_down(side_node, record.started_s, *at_s).is_none() {
                    stray_losses.push(record);
                } else if tells_peer_gone(record.dialect) {
                    let told = told_by_dialect.entry(record.dialect.dialect()).or_default();
                    told.calls += 1;
                    match told_at_s {
                        Some(told_at_s) => {
                            told.told += 1;
                            told.after_s.push(told_at_s - killed_at_s);
                        }
                        None => {
                            told.not_told += 1;
                            untold.push(record);
                        }
                    }
                }
            }
            (Exposure::RedisRestart, Ending::PartyLost { .. } | Ending::BothLost { .. }) => stray_losses.push(record),
            _ => {}
        }
    }

    let mut failures = Vec::new();
    let mut check = |what: &str, bad: &[&Record]| {
        if !bad.is_empty() {
            let examples: Vec<String> = bad.iter().take(EXAMPLES).map(|record| describe(record)).collect();
            failures.push(format!("{} {what}; e.g. {}", bad.len(), examples.join("; ")));
        }
    };
    check("calls whose parties' nodes stayed up were not clean", &unclean);
    check("calls lost a party whose node was not killed", &stray_losses);
    check("parties whose peer's node was killed were never told", &untold);

    let told: BTreeMap<&str, Value> = told_by_dialect
        .into_iter()
        .map(|(dialect, mut told)| {
            told.after_s.sort_by(f64::total_cmp);
            let summary = json!({
                "calls": told.calls,
                "told": told.told,
                "not_told": told.not_told,
                "told_after_s": quantiles(&told.after_s),
            });
            (dialect, summary)
        })
        .collect();
    let report = json!({ "classes": classes, "told": told });
    (report, failures)
}

/// p50, p95 and the maximum of sorted `values`.
fn quantiles(sorted: &[f64]) -> Value {
    let at = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize).copied();
    json!({ "p50": at(0.5), "p95": at(0.95), "max": sorted.last() })
}

fn describe(record: &Record) -> String {
    let side = |side: Side| match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
    };
    let ending = match &record.ending {
        Ending::HungUp => format!("hung up, messages {:?}", record.messages),
        Ending::Failed { error } => format!("failed: {error}"),
        Ending::PartyLost { side: lost, error, told_at_s, .. } => {
            format!("lost the {} ({error}), told: {told_at_s:?}", side(*lost))
        }
        Ending::BothLost { error, .. } => format!("lost both ({error})"),
    };
    format!(
        "{} node {} → node {}, {:.1}–{:.1} s: {ending}",
        record.dialect.dialect(),
        record.caller_node,
        record.callee_node,
        record.started_s,
        record.ended_s
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn call(caller_node: usize, callee_node: usize, span: (f64, f64), ending: Ending) -> Record {
        let messages = Tally { sent: 4, delivered: 4, ..Tally::default() };
        Record {
            dialect: Target::Chatroulette,
            caller_node,
            callee_node,
            started_s: span.0,
            ended_s: span.1,
            ending,
            messages,
        }
    }

    fn lost(side: Side, at_s: f64, told_at_s: Option<f64>) -> Ending {
        Ending::PartyLost { side, at_s, error: "closed".into(), told_at_s }
    }

    /// Node 1 killed at 10 s and back at 11 s; Redis killed at 30 s and
    /// back at 30.5 s, settled 2 s later.
    const INCIDENTS: [Incident; 4] = [
        Incident::NodeKilled { node: 1, at_s: 10.0 },
        Incident::NodeBack { node: 1, at_s: 11.0 },
        Incident::RedisKilled { at_s: 30.0 },
        Incident::RedisBack { at_s: 30.5 },
    ];

    #[test]
    fn calls_are_classed_by_what_went_down_while_they_ran() {
        let outages = Outages::of(&INCIDENTS, 2.0);
        let class = |record: Record| exposure(&record, &outages);
        assert_eq!(class(call(0, 2, (5.0, 20.0), Ending::HungUp)), Exposure::Untouched, "node 1 is not theirs");
        assert_eq!(class(call(0, 1, (12.0, 20.0), Ending::HungUp)), Exposure::Untouched, "began after it was back");
        assert_eq!(class(call(0, 1, (5.0, 10.5), Ending::HungUp)), Exposure::PartyNodeKilled { killed_at_s: 10.0 });
        assert_eq!(
            class(call(1, 0, (10.5, 10.6), Ending::HungUp)),
            Exposure::PartyNodeKilled { killed_at_s: 10.0 },
            "tried while it was down"
        );
        assert_eq!(class(call(0, 2, (31.0, 40.0), Ending::HungUp)), Exposure::RedisRestart, "before it settled");
        assert_eq!(class(call(0, 2, (33.0, 40.0), Ending::HungUp)), Exposure::Untouched);
    }

    #[test]
    fn a_clean_run_passes_and_times_the_telling() {
        let records = [
            call(0, 2, (5.0, 20.0), Ending::HungUp),
            call(0, 1, (5.0, 10.1), lost(Side::Callee, 10.1, Some(16.0))),
            call(0, 2, (29.0, 32.0), Ending::Failed { error: "cluster unreachable".into() }),
        ];
        let (report, failures) = judge(&records, &INCIDENTS, 2.0);
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(report["classes"]["untouched"]["hung_up"], 1);
        assert_eq!(report["classes"]["party_node_killed"]["lost_a_party"], 1);
        assert_eq!(report["classes"]["redis_restart"]["failed"], 1);
        assert_eq!(report["told"]["chatroulette"]["told_after_s"]["max"], 6.0);
    }

    #[test]
    fn each_broken_promise_fails_its_check() {
        let untouched_loss = call(0, 2, (5.0, 20.0), Ending::HungUp);
        let lossy = Record { messages: Tally { sent: 4, delivered: 3, lost: 1, ..Tally::default() }, ..untouched_loss };
        let cases = [
            (lossy, "were not clean"),
            (call(0, 2, (5.0, 20.0), Ending::Failed { error: "refused".into() }), "were not clean"),
            (call(0, 1, (5.0, 10.1), lost(Side::Caller, 10.1, Some(16.0))), "whose node was not killed"),
            (call(0, 1, (5.0, 10.1), lost(Side::Callee, 10.1, None)), "never told"),
            (call(0, 2, (29.0, 31.0), lost(Side::Callee, 30.2, None)), "whose node was not killed"),
        ];
        for (record, check) in cases {
            let (_, failures) = judge(std::slice::from_ref(&record), &INCIDENTS, 2.0);
            assert!(failures.len() == 1 && failures[0].contains(check), "{record:?}: {failures:?}");
        }
    }
}
