//! Invites into named rooms, peer and room status, and namespaces: the
//! model under the calling dialect (seed 003).

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

fn ns(name: &str) -> NamespaceId {
    NamespaceId::parse(name).unwrap()
}

fn json(text: &str) -> Payload {
    Payload::new(text)
}

fn events_for(out: &[Output], session: SessionId) -> Vec<&Event> {
    out.iter().filter(|o| o.to == session).map(|o| &o.event).collect()
}

fn invite_id(out: &[Output]) -> InviteId {
    out.iter()
        .find_map(|o| match &o.event {
            Event::Reply { result: Ok(Reply::Calling { invite, .. }), .. } => Some(*invite),
            _ => None,
        })
        .expect("an invite reply")
}

#[test]
fn an_invite_makes_a_pending_peer_who_joins_on_accepting() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    w.send(a, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: Some(json(r#"{"x":1}"#)) });

    let out = w.ask(a, Command::Invite { room: room("r"), to: user("b"), data: json(r#"{"hi":true}"#) });
    let pending =
        PeerInfo { user: user("b"), member: None, peer_id: None, pending: true, status: PeerStatus::default() };
    assert_eq!(events_for(&out, a)[0], &Event::PeerJoined { room: room("r"), peer: pending, size: 2 });
    let ringing = events_for(&out, b);
    let Event::Ringing { room: view, from, data, .. } = ringing[0] else { panic!("{ringing:?}") };
    assert_eq!((from, data.as_str()), (&user("a"), r#"{"hi":true}"#));
    assert_eq!(view.peers.len(), 1, "the invitee is left out of its own view");
    assert_eq!(view.peers[0].status.peer.as_ref().map(Payload::as_str), Some(r#"{"x":1}"#));
    let invite = invite_id(&out);

    // While pending, b may not act in the room, and a may not message b.
    let out = w.send(b, Command::Leave { room: RoomRef::Id(room("r")) });
    assert_eq!(error_of(&out), CommandError::OnlyInvited(room("r")));
    let to_b = RelayTarget::RoomMember { room: room("r"), user: user("b") };
    let out = w.send(a, Command::Relay { to: to_b.clone(), signal: offer("x") });
    assert_eq!(error_of(&out), CommandError::PeerPending(user("b")));
    let out = w.send(a, Command::Invite { room: room("r"), to: user("b"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::AlreadyInRoom(room("r")));

    let out =
        w.send(b, Command::Accept { invite: InviteRef::Id(invite), status: Some(json(r#"{"y":2}"#)), note: None });
    let to_a = events_for(&out, a);
    assert_eq!(to_a[0], &Event::CallAccepted { invite, room: room("r"), by: user("b"), note: None, by_style: None });
    assert_eq!(to_a[1], &Event::PeerUpdated { room: room("r"), user: user("b"), update: PeerUpdate::Accepted });
    let status = PeerStatus { user: None, peer: Some(json(r#"{"y":2}"#)) };
    assert_eq!(to_a[2], &Event::PeerUpdated { room: room("r"), user: user("b"), update: PeerUpdate::Status(status) });

    let out = w.send(a, Command::Relay { to: to_b, signal: offer("x") });
    assert_eq!(out[0].to, b);
}

#[test]
fn inviting_creates_the_room_and_needs_no_membership() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    let out = w.ask(a, Command::Invite { room: room("new"), to: user("b"), data: Payload::null() });
    assert!(matches!(events_for(&out, b)[0], Event::Ringing { .. }));
    let out = w.send(a, Command::Invite { room: room("new2"), to: user("nobody"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::UnknownUser(user("nobody")));
    // Invites into rooms do not make anyone busy for 1:1 calls.
    let out = w.send(a, Command::Call { to: user("b"), data: Payload::null() });
    assert!(matches!(out[0].event, Event::Ringing { .. }), "{out:?}");
}

#[test]
fn declining_or_cancelling_removes_the_pending_peer_and_an_empty_room_waits() {
    let mut w = World::with(CoreConfig { empty_room_ttl: Duration::from_secs(60), ..CoreConfig::default() });
    let a = w.online("a");
    let b = w.online("b");
    let c = w.online("c");
    w.send(c, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    w.send(a, Command::Invite { room: room("r"), to: user("b"), data: Payload::null() });

    let out =
        w.send(b, Command::Reject { invite: InviteRef::From(user("a")), reason: EndReason::Rejected, note: None });
    assert!(matches!(events_for(&out, a)[0], Event::CallDeclined { reason: EndReason::Rejected, .. }));
    assert!(matches!(events_for(&out, c)[0], Event::PeerLeft { member: None, reason: EndReason::Rejected, .. }));

    w.send(a, Command::Invite { room: room("r"), to: user("b"), data: Payload::null() });
    let out = w.send(a, Command::Cancel { invite: InviteRef::To(user("b")), note: None });
    assert!(matches!(events_for(&out, b)[0], Event::RingingStopped { reason: EndReason::Cancelled, .. }));
    assert!(matches!(events_for(&out, c)[0], Event::PeerLeft { reason: EndReason::Cancelled, .. }));

    // The last member leaves: the room stays for the grace period.
    w.send(c, Command::Leave { room: RoomRef::Id(room("r")) });
    assert_eq!(w.core.stats().rooms, 1);
    w.advance(Duration::from_secs(60));
    assert_eq!(w.core.stats().rooms, 0);
}

#[test]
fn a_disconnect_cancels_outgoing_and_declines_incoming_invites() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    let c = w.online("c");
    w.send(a, Command::Invite { room: room("r1"), to: user("b"), data: Payload::null() });
    w.send(c, Command::Invite { room: room("r2"), to: user("a"), data: Payload::null() });
    let out = w.disconnect(a);
    assert!(matches!(events_for(&out, b)[..], [Event::RingingStopped { reason: EndReason::Disconnected, .. }]));
    assert!(matches!(events_for(&out, c)[..], [Event::CallDeclined { reason: EndReason::Disconnected, .. }]));
    assert_eq!(w.core.stats().invites, 0);
}

#[test]
fn peer_status_is_the_users_status_with_the_peer_status_over_it() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    w.send(a, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: Some(json(r#"{"p":1}"#)) });
    w.send(b, Command::Join { room: Some(room("r")), create: None, status: None });

    let out = w.send(a, Command::SetStatus { status: json(r#"{"u":1}"#) });
    let both = PeerStatus { user: Some(json(r#"{"u":1}"#)), peer: Some(json(r#"{"p":1}"#)) };
    assert_eq!(
        out,
        vec![Output {
            to: b,
            event: Event::PeerUpdated { room: room("r"), user: user("a"), update: PeerUpdate::Status(both) }
        }]
    );

    let out = w.send(a, Command::SetPeerStatus { room: room("r"), status: Some(json(r#"{"p":2}"#)) });
    let both = PeerStatus { user: Some(json(r#"{"u":1}"#)), peer: Some(json(r#"{"p":2}"#)) };
    assert_eq!(out[0].event, Event::PeerUpdated { room: room("r"), user: user("a"), update: PeerUpdate::Status(both) });

    let c = w.online("c");
    let out = w.send(c, Command::SetPeerStatus { room: room("r"), status: None });
    assert_eq!(error_of(&out), CommandError::NotInRoom(room("r")));
    let out = w.send(c, Command::SetPeerStatus { room: room("gone"), status: None });
    assert_eq!(error_of(&out), CommandError::NoSuchRoom(room("gone")));
}

#[test]
fn room_status_is_set_key_by_key_with_compare_and_set() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    w.send(a, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    w.send(b, Command::Join { room: Some(room("r")), create: None, status: None });
    let set = |key: &str, value: Option<&str>, check: Option<Option<&str>>| Command::SetRoomStatus {
        room: room("r"),
        key: key.into(),
        value: value.map(json),
        check: check.map(|expected| expected.map(json)),
    };

    let out = w.send(a, set("k", Some("1"), Some(None)));
    assert_eq!(
        out,
        vec![Output {
            to: b,
            event: Event::RoomStatusChanged { room: room("r"), status: vec![("k".into(), json("1"))] }
        }]
    );
    assert_eq!(error_of(&w.send(b, set("k", Some("2"), Some(None)))), CommandError::StatusMismatch);
    assert_eq!(error_of(&w.send(b, set("k", Some("2"), Some(Some("3"))))), CommandError::StatusMismatch);
    let out = w.send(b, set("k", Some("2"), Some(Some("1"))));
    assert_eq!(out[0].event, Event::RoomStatusChanged { room: room("r"), status: vec![("k".into(), json("2"))] });
    w.send(b, set("j", Some("true"), None));
    let out = w.send(a, set("k", None, None));
    assert_eq!(out[0].event, Event::RoomStatusChanged { room: room("r"), status: vec![("j".into(), json("true"))] });
    // A newcomer finds the status.
    let c = w.online("c");
    let out = w.ask(c, Command::Join { room: Some(room("r")), create: None, status: None });
    let Some(Event::Reply { result: Ok(Reply::Joined(view)), .. }) = events_for(&out, c).pop() else {
        panic!("{out:?}")
    };
    assert_eq!(view.status, vec![("j".into(), json("true"))]);
}

#[test]
fn a_room_joined_without_a_name_gets_a_drawn_one() {
    let mut w = World::new();
    let a = w.online("a");
    let out = w.ask(a, Command::Join { room: None, create: Some(usize::MAX), status: None });
    let Event::Reply { result: Ok(Reply::Joined(view)), .. } = &out[0].event else { panic!("{out:?}") };
    assert_eq!(view.id.as_str().len(), 36);
}

#[test]
fn namespaces_list_users_and_rooms_and_tell_subscribers() {
    let mut w = World::new();
    let watcher = w.online("watcher");
    let a = w.online("a");

    let out = w.ask(watcher, Command::Subscribe { namespace: ns("n") });
    assert_eq!(out[0].event, Event::Reply { tag: 9, result: Ok(Reply::Subscribed { users: vec![], rooms: vec![] }) });
    assert_eq!(
        error_of(&w.send(watcher, Command::Subscribe { namespace: ns("n") })),
        CommandError::AlreadySubscribed(ns("n"))
    );

    let out = w.send(a, Command::RegisterUser { namespace: ns("n") });
    let added = NamespaceEvent::UserAdded { user: user("a"), status: None };
    assert_eq!(out, vec![Output { to: watcher, event: Event::Namespace { namespace: ns("n"), event: added } }]);
    assert_eq!(
        error_of(&w.send(a, Command::RegisterUser { namespace: ns("n") })),
        CommandError::AlreadyInNamespace(ns("n"))
    );

    let out = w.send(a, Command::SetStatus { status: json(r#"{"away":true}"#) });
    let updated = NamespaceEvent::UserUpdated { user: user("a"), status: Some(json(r#"{"away":true}"#)) };
    assert_eq!(out, vec![Output { to: watcher, event: Event::Namespace { namespace: ns("n"), event: updated } }]);

    // Rooms: registering needs an existing room; peers coming and going are told.
    assert_eq!(
        error_of(&w.send(a, Command::RegisterRoom { namespace: ns("n"), room: room("r") })),
        CommandError::NoSuchRoom(room("r"))
    );
    w.send(a, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    let out = w.send(a, Command::RegisterRoom { namespace: ns("n"), room: room("r") });
    assert!(
        matches!(&out[0].event, Event::Namespace { event: NamespaceEvent::RoomAdded { room: view }, .. } if view.peers.len() == 1)
    );
    let b = w.online("b");
    let out = w.send(b, Command::Join { room: Some(room("r")), create: None, status: None });
    assert!(
        events_for(&out, watcher)
            .iter()
            .any(|e| matches!(e, Event::Namespace { event: NamespaceEvent::PeerAdded { .. }, .. }))
    );
    let out = w.send(b, Command::Leave { room: RoomRef::Id(room("r")) });
    assert!(
        events_for(&out, watcher)
            .iter()
            .any(|e| matches!(e, Event::Namespace { event: NamespaceEvent::PeerRemoved { .. }, .. }))
    );

    // A later subscriber gets the listing.
    let late = w.online("late");
    let out = w.ask(late, Command::Subscribe { namespace: ns("n") });
    let Event::Reply { result: Ok(Reply::Subscribed { users, rooms }), .. } = &out[0].event else { panic!("{out:?}") };
    assert_eq!(users, &vec![(user("a"), Some(json(r#"{"away":true}"#)))]);
    assert_eq!(rooms.len(), 1);

    // The room empties: it leaves the namespace by itself.
    let out = w.send(a, Command::Leave { room: RoomRef::Id(room("r")) });
    assert!(
        events_for(&out, watcher)
            .iter()
            .any(|e| matches!(e, Event::Namespace { event: NamespaceEvent::RoomRemoved { .. }, .. }))
    );

    // a goes offline: subscribers are told, and the namespace empties away.
    let out = w.disconnect(a);
    let removed = Event::Namespace { namespace: ns("n"), event: NamespaceEvent::UserRemoved { user: user("a") } };
    assert_eq!(events_for(&out, watcher), vec![&removed]);
    w.send(watcher, Command::Unsubscribe { namespace: ns("n") });
    w.send(late, Command::Unsubscribe { namespace: ns("n") });
    assert_eq!(w.core.stats().namespaces, 0);
    assert_eq!(
        error_of(&w.send(late, Command::Unsubscribe { namespace: ns("n") })),
        CommandError::NoSuchNamespace(ns("n"))
    );
    assert_eq!(
        error_of(&w.send(late, Command::UnregisterUser { namespace: ns("n") })),
        CommandError::NoSuchNamespace(ns("n"))
    );
}

#[test]
fn unregistering_checks_what_is_registered() {
    let mut w = World::new();
    let a = w.online("a");
    w.send(a, Command::Subscribe { namespace: ns("n") });
    assert_eq!(
        error_of(&w.send(a, Command::UnregisterUser { namespace: ns("n") })),
        CommandError::NotInNamespace(ns("n"))
    );
    w.send(a, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    assert_eq!(
        error_of(&w.send(a, Command::UnregisterRoom { namespace: ns("n"), room: room("r") })),
        CommandError::RoomNotInNamespace { namespace: ns("n"), room: room("r") }
    );
    w.send(a, Command::RegisterRoom { namespace: ns("n"), room: room("r") });
    assert_eq!(
        error_of(&w.send(a, Command::RegisterRoom { namespace: ns("n"), room: room("r") })),
        CommandError::RoomAlreadyInNamespace { namespace: ns("n"), room: room("r") }
    );
    let out = w.send(a, Command::UnregisterRoom { namespace: ns("n"), room: room("r") });
    assert!(matches!(&out[0].event, Event::Namespace { event: NamespaceEvent::RoomRemoved { .. }, .. }));
    assert!(w.send(a, Command::Unsubscribe { namespace: ns("n") }).is_empty());
    assert_eq!(
        error_of(&w.send(a, Command::Unsubscribe { namespace: ns("n") })),
        CommandError::NoSuchNamespace(ns("n"))
    );
}
