//! Session caps at the edge: how many WebSocket and socket.io sessions one
//! client address may hold (`--max-connections-per-ip`) and the node holds
//! (`--max-sessions`), and none at all once the node drains (SIGTERM).
//!
//! Sessions are counted, not TCP connections: a socket.io polling session
//! holds no connection of its own, and one attacker opened 15,000 of them
//! over 32 keep-alive connections in 1.8 s (+244 MB). Each admitted session
//! holds an [`Admission`]; dropping it gives the place back, whatever ends
//! the session.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a session was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The client's address holds `--max-connections-per-ip` sessions (429).
    PerIp,
    /// The node holds `--max-sessions` sessions (1013 or 503).
    NodeFull,
    /// The node is draining before it stops: it takes no new session (1013
    /// or 503), so that clients reconnect to another node.
    Draining,
}

/// The counts, shared by every listener. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Admissions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    per_ip: usize,
    node: usize,
    /// One lock over both counts, held for one update, never across an
    /// await: the two must agree.
    counts: Mutex<Counts>,
    /// Set once, at the first SIGTERM; never cleared.
    draining: AtomicBool,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses that hold a session now.
    by_client: HashMap<IpAddr, usize>,
}

impl Admissions {
    pub(crate) fn new(per_ip: usize, node: usize) -> Self {
        Self { inner: Arc::new(Inner { per_ip, node, counts: Mutex::default(), draining: AtomicBool::new(false) }) }
    }

    /// From now on every new session is refused ([`Refused::Draining`]);
    /// sessions admitted before keep their place.
    pub(crate) fn drain(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Whether [`Admissions::drain`] was called.
    pub(crate) fn draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Admits one session from `peer`, or says which cap it would break.
    /// The per-address cap is checked first, so that one client filling the
    /// node hears 429 about itself.
    pub(crate) fn admit(&self, peer: IpAddr) -> Result<Admission, Refused> {
        if self.draining() {
            return Err(Refused::Draining);
        }
        let client = client_key(peer);
        let mut counts = self.inner.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.by_client.get(&client).copied().unwrap_or(0);
        if held >= self.inner.per_ip {
            return Err(Refused::PerIp);
        }
        if counts.total >= self.inner.node {
            return Err(Refused::NodeFull);
        }
        counts.total += 1;
        *counts.by_client.entry(client).or_insert(0) += 1;
        Ok(Admission { inner: self.inner.clone(), client })
    }

    /// Sessions admitted and not yet ended.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.inner.counts.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

/// One admitted session's place; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Admission {
    inner: Arc<Inner>,
    client: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self.inner.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(held) = counts.by_client.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

/// The address a client is counted by: an IPv4 address (an IPv4-mapped
/// IPv6 one included) as it is, an IPv6 address by its /64, the block one
/// subscriber is usually given, or the cap would be one address away.
pub(crate) fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_and_the_node_have_their_cap_and_places_come_back() {
        let admissions = Admissions::new(2, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admissions.admit(a).unwrap();
        let _second = admissions.admit(a).unwrap();
        assert_eq!(admissions.admit(a).unwrap_err(), Refused::PerIp);
        let _third = admissions.admit(b).unwrap();
        assert_eq!(admissions.admit(b).unwrap_err(), Refused::NodeFull);
        drop(first);
        assert_eq!(admissions.total(), 2);
        assert!(admissions.admit(b).is_ok(), "a place given back is free again");
    }

    #[test]
    fn a_draining_node_admits_nobody_and_keeps_who_it_has() {
        let admissions = Admissions::new(10, 10);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let _kept = admissions.admit(a).unwrap();
        admissions.drain();
        assert!(admissions.draining());
        assert_eq!(admissions.admit(a).unwrap_err(), Refused::Draining);
        assert_eq!(admissions.total(), 1);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let admissions = Admissions::new(1, 10);
        let _one = admissions.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(admissions.admit("2001:db8:1:2:ffff::9".parse().unwrap()).unwrap_err(), Refused::PerIp);
        assert!(admissions.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let _v4 = admissions.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert_eq!(admissions.admit("::ffff:192.0.2.7".parse().unwrap()).unwrap_err(), Refused::PerIp);
    }
}
