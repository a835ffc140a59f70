//! The relay rule, named rooms with a capacity, empty-room expiry, and the
//! ban on clocks inside the core.

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

#[test]
fn signals_flow_both_ways_while_ringing_and_in_a_call() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    let out = w.ask(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let Event::Reply { result: Ok(Reply::Calling { room, .. }), .. } = &out[1].event else { panic!("{out:?}") };
    let room = room.clone();

    // Trickle ICE may start before the answer, in both directions.
    let ice = Signal { kind: SignalKind::IceCandidate, payload: Payload::new(r#"{"candidate":"c1"}"#) };
    let out = w.send(alice, Command::Relay { to: RelayTarget::CallPeer(user("bob")), signal: ice.clone() });
    assert_eq!(out, vec![Output { to: bob, event: relayed(&room, "alice", alice, ice.clone()) }]);
    let out = w.send(bob, Command::Relay { to: RelayTarget::CallPeer(user("alice")), signal: ice.clone() });
    assert_eq!(out, vec![Output { to: alice, event: relayed(&room, "bob", bob, ice) }]);

    w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    let out = w.send(alice, Command::Relay { to: RelayTarget::CallPeer(user("bob")), signal: offer("v=0") });
    assert_eq!(out, vec![Output { to: bob, event: relayed(&room, "alice", alice, offer("v=0")) }]);
}

#[test]
fn nobody_outside_the_call_is_reached() {
    let mut w = World::new();
    let (alice, _bob) = w.accepted_call();
    let carol = w.online("carol");
    let out = w.send(carol, Command::Relay { to: RelayTarget::CallPeer(user("alice")), signal: offer("x") });
    assert_eq!(error_of(&out), CommandError::NoCallWith(user("alice")));
    let out = w.send(alice, Command::Relay { to: RelayTarget::CallPeer(user("carol")), signal: offer("x") });
    assert_eq!(error_of(&out), CommandError::NoCallWith(user("carol")));
    let out = w.send(alice, Command::Relay { to: RelayTarget::CallPeer(user("nobody")), signal: offer("x") });
    assert_eq!(error_of(&out), CommandError::NoCallWith(user("nobody")));
}

#[test]
fn rooms_have_a_capacity() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    let c = w.online("c");
    let r = room("42");
    assert_eq!(
        error_of(&w.send(a, Command::Join { room: Some(r.clone()), create: None, status: None })),
        CommandError::NoSuchRoom(r.clone())
    );

    let out = w.ask(a, Command::Join { room: Some(r.clone()), create: Some(2), status: None });
    // The first joiner is member 1, the next member 2.
    let empty = RoomView { id: r.clone(), peers: vec![], member: Some(1), status: vec![] };
    assert_eq!(out[0].event, Event::Reply { tag: 9, result: Ok(Reply::Joined(empty)) });
    let out = w.ask(b, Command::Join { room: Some(r.clone()), create: None, status: Some(Payload::new("{}")) });
    let b_peer = PeerInfo {
        user: user("b"),
        member: Some(2),
        peer_id: Some(b.to_string().into()),
        pending: false,
        status: PeerStatus { user: None, peer: Some(Payload::new("{}")) },
    };
    assert_eq!(out[0], Output { to: a, event: Event::PeerJoined { room: r.clone(), peer: b_peer, size: 2 } });
    let a_peer = PeerInfo {
        user: user("a"),
        member: Some(1),
        peer_id: Some(a.to_string().into()),
        pending: false,
        status: PeerStatus::default(),
    };
    let view = RoomView { id: r.clone(), peers: vec![a_peer], member: Some(2), status: vec![] };
    assert_eq!(out[1].event, Event::Reply { tag: 9, result: Ok(Reply::Joined(view)) });

    assert_eq!(
        error_of(&w.send(c, Command::Join { room: Some(r.clone()), create: Some(2), status: None })),
        CommandError::RoomFull(r.clone())
    );
    assert_eq!(
        error_of(&w.send(b, Command::Join { room: Some(r.clone()), create: None, status: None })),
        CommandError::AlreadyInRoom(r.clone())
    );
}

#[test]
fn room_members_relay_to_each_other_only() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    let c = w.online("c");
    let r = room("r");
    w.send(a, Command::Join { room: Some(r.clone()), create: Some(2), status: None });
    w.send(b, Command::Join { room: Some(r.clone()), create: None, status: None });

    let to_b = RelayTarget::RoomMember { room: r.clone(), user: user("b") };
    let out = w.send(a, Command::Relay { to: to_b.clone(), signal: offer("x") });
    assert_eq!(out, vec![Output { to: b, event: relayed(&r, "a", a, offer("x")) }]);

    assert_eq!(
        error_of(&w.send(c, Command::Relay { to: to_b, signal: offer("x") })),
        CommandError::NotInRoom(r.clone())
    );
    let to_c = RelayTarget::RoomMember { room: r.clone(), user: user("c") };
    assert_eq!(
        error_of(&w.send(a, Command::Relay { to: to_c, signal: offer("x") })),
        CommandError::PeerNotInRoom { room: r.clone(), user: user("c") }
    );
}

#[test]
fn leaving_tells_the_others_and_an_empty_room_expires() {
    let mut w = World::with(CoreConfig { empty_room_ttl: Duration::from_secs(60), ..CoreConfig::default() });
    let a = w.online("a");
    let b = w.online("b");
    let r = room("r");
    w.send(a, Command::Join { room: Some(r.clone()), create: Some(2), status: None });
    w.send(b, Command::Join { room: Some(r.clone()), create: None, status: None });

    let out = w.send(a, Command::Leave { room: RoomRef::Id(r.clone()) });
    assert_eq!(
        out,
        vec![Output {
            to: b,
            event: Event::PeerLeft {
                room: r.clone(),
                user: user("a"),
                member: Some(1),
                peer_id: Some(a.to_string().into()),
                reason: EndReason::Hangup,
            }
        }]
    );
    assert_eq!(
        error_of(&w.send(a, Command::Leave { room: RoomRef::Id(r.clone()) })),
        CommandError::NotInRoom(r.clone())
    );

    let out = w.disconnect(b);
    assert!(out.is_empty(), "nobody left to tell: {out:?}");
    assert_eq!(w.core.poll_timeout(), Some(w.now + Duration::from_secs(60)));

    // Rejoining within the grace period keeps the room and cancels its expiry.
    w.advance(Duration::from_secs(30));
    w.send(a, Command::Join { room: Some(r.clone()), create: None, status: None });
    assert_eq!(w.core.poll_timeout(), None);
    w.send(a, Command::Leave { room: RoomRef::Id(r.clone()) });
    assert_eq!(w.advance(Duration::from_secs(59)), vec![]);
    assert_eq!(w.core.stats().rooms, 1);
    w.advance(Duration::from_secs(1));
    w.assert_clean(1, 1);
}

#[test]
fn a_disconnect_is_leaving_every_room() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    for name in ["r1", "r2"] {
        w.send(a, Command::Join { room: Some(room(name)), create: Some(5), status: None });
        w.send(b, Command::Join { room: Some(room(name)), create: None, status: None });
    }
    let out = w.disconnect(b);
    assert_eq!(out.len(), 2);
    assert!(
        out.iter().all(|o| o.to == a && matches!(o.event, Event::PeerLeft { reason: EndReason::Disconnected, .. }))
    );
}

#[test]
fn status_is_kept_per_user() {
    let mut w = World::new();
    let a = w.online("a");
    assert!(w.send(a, Command::SetStatus { status: Payload::new(r#"{"away":true}"#) }).is_empty());
    assert_eq!(w.core.status_of(&user("a")).map(Payload::as_str), Some(r#"{"away":true}"#));
    w.disconnect(a);
    assert_eq!(w.core.status_of(&user("a")), None);
}

/// The core is sans-IO: no clock reads, no sleeping, no sockets, no tokio.
#[test]
fn the_core_reads_no_clock_and_does_no_io() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let banned = ["Instant::now", "SystemTime::now", "thread::sleep", "tokio", "std::net", "std::fs", "serde_json"];
    let mut files = 0;
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            files += 1;
            for (number, line) in text.lines().enumerate() {
                for word in banned {
                    assert!(!line.contains(word), "{}:{}: {word} in the core: {line}", path.display(), number + 1);
                }
            }
        }
    }
    assert!(files >= 5, "read {files} files from {}", src.display());
}
