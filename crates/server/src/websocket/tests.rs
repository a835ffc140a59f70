//! [`ServerSocket`] over an in-memory connection, the client's frames
//! written byte by byte as RFC 6455 §5.2 lays them out, so that frames can
//! be cut anywhere: buffers are given back only when that loses nothing.

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tungstenite::Message;
use tungstenite::protocol::WebSocketConfig;

use super::ServerSocket;
use super::aligned::FrameAligned;

const MAX_FRAME: usize = 64 * 1024;

fn pair() -> (ServerSocket<DuplexStream>, DuplexStream) {
    let (server, client) = tokio::io::duplex(1 << 20);
    let config = WebSocketConfig::default().read_buffer_size(256).max_frame_size(Some(MAX_FRAME));
    (ServerSocket::new(FrameAligned::new(server, MAX_FRAME), config), client)
}

/// A client frame: `first` is FIN and the opcode, the payload masked.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x1f, 0x2e, 0x3d, 0x4c];
    let mut out = vec![first];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ mask[i % 4]));
    out
}

const TEXT: u8 = 0x81;

fn text(len: usize, fill: char) -> String {
    std::iter::repeat_n(fill, len).collect()
}

async fn next_text(server: &mut ServerSocket<DuplexStream>) -> String {
    match server.next().await {
        Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Whether the server has a message ready without waiting.
fn ready(server: &mut ServerSocket<DuplexStream>) -> bool {
    server.next().now_or_never().is_some()
}

#[tokio::test]
async fn a_large_message_grows_the_buffers_and_an_idle_socket_gives_them_back() {
    let (mut server, mut client) = pair();
    client.write_all(&frame(TEXT, b"small")).await.unwrap();
    assert_eq!(next_text(&mut server).await, "small");
    assert!(!server.has_grown() && !server.release_buffers(), "nothing grew");
    let sdp = text(6000, 's');
    client.write_all(&frame(TEXT, sdp.as_bytes())).await.unwrap();
    assert_eq!(next_text(&mut server).await, sdp);
    assert!(server.has_grown());
    assert!(server.release_buffers(), "idle, between messages");
    assert!(!server.has_grown() && !server.release_buffers(), "given back once");
    client.write_all(&frame(TEXT, b"after")).await.unwrap();
    assert_eq!(next_text(&mut server).await, "after", "the connection goes on");
}

#[tokio::test]
async fn a_frame_cut_in_two_survives_a_release_between_its_halves() {
    let (mut server, mut client) = pair();
    client.write_all(&frame(TEXT, text(6000, 'a').as_bytes())).await.unwrap();
    next_text(&mut server).await;
    let cut = frame(TEXT, text(3000, 'b').as_bytes());
    client.write_all(&cut[..1000]).await.unwrap();
    assert!(!ready(&mut server), "half a frame is not a message");
    assert!(server.release_buffers(), "the half is held below tungstenite, not in it");
    client.write_all(&cut[1000..]).await.unwrap();
    assert_eq!(next_text(&mut server).await, text(3000, 'b'));
}

#[tokio::test]
async fn a_fragmented_message_keeps_the_buffers_until_its_last_frame() {
    let (mut server, mut client) = pair();
    client.write_all(&frame(TEXT, text(6000, 'a').as_bytes())).await.unwrap();
    next_text(&mut server).await;
    // Text without FIN, a ping inside the message, then the continuation.
    client.write_all(&frame(0x01, b"first half ")).await.unwrap();
    client.write_all(&frame(0x89, b"ping")).await.unwrap();
    match server.next().await {
        Some(Ok(Message::Ping(payload))) => assert_eq!(&payload[..], b"ping"),
        other => panic!("expected the ping, got {other:?}"),
    }
    assert!(!server.release_buffers(), "tungstenite holds the first fragment");
    client.write_all(&frame(0x80, b"second half")).await.unwrap();
    assert_eq!(next_text(&mut server).await, "first half second half");
    assert!(server.release_buffers(), "the message ended");
}

#[tokio::test]
async fn buffers_stay_until_what_was_written_is_flushed() {
    let (mut server, mut client) = pair();
    let answer = text(5000, 'w');
    server.feed(Message::text(answer.clone())).await.unwrap();
    assert!(server.has_grown());
    assert!(!server.release_buffers(), "not flushed yet");
    server.flush().await.unwrap();
    assert!(server.release_buffers());
    // The server's frame, unmasked: 0x81, 126, a 16-bit length, the text.
    let mut header = [0; 4];
    client.read_exact(&mut header).await.unwrap();
    assert_eq!(header, [0x81, 126, (5000u16 >> 8) as u8, (5000u16 & 0xff) as u8]);
    let mut body = vec![0; 5000];
    client.read_exact(&mut body).await.unwrap();
    assert_eq!(body, answer.as_bytes());
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_from_its_header() {
    let (mut server, mut client) = pair();
    let header = &frame(TEXT, &vec![b'x'; MAX_FRAME + 1])[..14];
    client.write_all(header).await.unwrap();
    match server.next().await {
        Some(Err(tungstenite::Error::Capacity(_))) => {}
        other => panic!("expected the size error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_cut_inside_a_frame_ends_without_a_message() {
    let (mut server, mut client) = pair();
    let cut = frame(TEXT, text(2000, 'c').as_bytes());
    client.write_all(&cut[..700]).await.unwrap();
    drop(client);
    match server.next().await {
        Some(Err(_)) | None => {}
        Some(Ok(message)) => panic!("half a frame made a message: {message:?}"),
    }
}

#[tokio::test]
async fn the_pong_tungstenite_owes_goes_out_before_a_release() {
    let (mut server, mut client) = pair();
    client.write_all(&frame(TEXT, text(6000, 'a').as_bytes())).await.unwrap();
    next_text(&mut server).await;
    client.write_all(&frame(0x89, b"are you there")).await.unwrap();
    match server.next().await {
        Some(Ok(Message::Ping(_))) => {}
        other => panic!("expected the ping, got {other:?}"),
    }
    // tungstenite has queued the pong, to write at its next read or flush.
    assert!(server.release_buffers());
    // Written by the release itself, so there now, without waiting.
    let mut pong = [0; 15];
    let read = client.read_exact(&mut pong).now_or_never();
    assert!(matches!(read, Some(Ok(15))), "the pong is out: {read:?}");
    assert_eq!(pong[..2], [0x8a, 13], "an unmasked pong of 13 bytes");
    assert_eq!(&pong[2..], b"are you there");
}
