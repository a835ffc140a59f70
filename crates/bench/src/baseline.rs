//! The bare relay: pairs the two WebSocket connections that ask for the same
//! path and forwards each frame to the other of the pair, unparsed.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// `baseline-relay` options.
#[derive(clap::Args)]
pub struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: std::net::SocketAddr,
}

/// Frames waiting for one side of a pair, bounded like switchboard's
/// session queue.
const QUEUE: usize = 256;

/// By path, the half of a pair the second connection takes: a sender to the
/// first, and its own inbox.
type Parked = Mutex<HashMap<String, (mpsc::Sender<Message>, mpsc::Receiver<Message>)>>;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    eprintln!("baseline relay on {}", listener.local_addr()?);
    serve(listener).await
}

/// Relays between paired connections on `listener` until accepting fails.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let parked: &'static Parked = Box::leak(Box::new(Mutex::new(HashMap::new())));
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = connection(stream, parked).await;
        });
    }
}

// tungstenite's handshake callback returns its own large error response type.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, parked: &Parked) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut path = String::new();
    let socket = tokio_tungstenite::accept_hdr_async(
        stream,
        |request: &tokio_tungstenite::tungstenite::handshake::server::Request, response| {
            path = request.uri().path().to_owned();
            Ok(response)
        },
    )
    .await?;
    let (to_peer, mut inbox) = {
        let mut parked = parked.lock().expect("not poisoned");
        match parked.remove(&path) {
            Some(second_half) => second_half,
            None => {
                let (to_first, first_inbox) = mpsc::channel(QUEUE);
                let (to_second, second_inbox) = mpsc::channel(QUEUE);
                parked.insert(path, (to_first, second_inbox));
                (to_second, first_inbox)
            }
        }
    };
    let (mut sink, mut source) = socket.split();
    loop {
        tokio::select! {
            frame = source.next() => match frame {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if to_peer.send(message).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            message = inbox.recv() => match message {
                Some(message) => {
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    Ok(())
}
