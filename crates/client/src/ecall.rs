//! An ecall device over `/ws/ecall`.

use std::collections::VecDeque;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_ecall::{Action, ActionError, Device, DeviceConfig, MessageError, Output};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket failed or closed.
    #[error("websocket: {0}")]
    Socket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The connection closed.
    #[error("the server closed the connection")]
    Closed,
    /// The server refused a frame: its `{"type":"error"}` message.
    #[error("the server refused a frame: {0}")]
    Refused(String),
    /// The state machine refused a local action.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A message from a peer was malformed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The server sent a frame that is not the dialect's.
    #[error("unexpected frame: {0}")]
    Unexpected(String),
}

/// One device of a user, connected to switchboard's ecall endpoint.
pub struct EcallClient {
    device: Device,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Outputs for the application, in order.
    events: VecDeque<Output>,
}

impl EcallClient {
    /// Connects device `client` of `user` to the server at `base` (for
    /// example `ws://127.0.0.1:8080`).
    ///
    /// # Errors
    /// [`ClientError::Socket`] when the connection fails.
    pub async fn connect(base: &str, user: &str, client: &str, config: DeviceConfig) -> Result<Self, ClientError> {
        let url = format!("{base}/ws/ecall?user={user}&client={client}");
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self { device: Device::new(user, client, config), socket, events: VecDeque::new() })
    }

    /// The state machine, to read call states.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A local action (call, accept, hang up, ...) at `now`; what it sends
    /// goes out before this returns.
    ///
    /// # Errors
    /// [`ClientError::Action`] when the action does not fit the call's
    /// state; [`ClientError::Socket`] when sending fails.
    pub async fn act(&mut self, now: Instant, action: Action) -> Result<(), ClientError> {
        self.device.handle_action(now, action)?;
        self.flush().await
    }

    /// Lets the state machine's deadlines due by `now` fire (a ring timeout
    /// sends CANCEL).
    ///
    /// # Errors
    /// [`ClientError::Socket`] when sending fails.
    pub async fn tick(&mut self, now: Instant) -> Result<(), ClientError> {
        self.device.handle_timeout(now);
        self.flush().await
    }

    /// The next output for the application (a state change, remote
    /// properties, a remote SDP), reading and answering messages as needed.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the connection ends first,
    /// [`ClientError::Refused`] when the server refused a frame of ours.
    pub async fn next_event(&mut self, now: Instant) -> Result<Output, ClientError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            self.receive(now).await?;
        }
    }

    /// Reads one `calling` message, hands it to the state machine (sending
    /// what it answers), and returns its content.
    ///
    /// # Errors
    /// As [`EcallClient::next_event`].
    pub async fn receive(&mut self, now: Instant) -> Result<String, ClientError> {
        loop {
            let frame = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(error.into()),
            };
            let value: Value = serde_json::from_str(&frame).map_err(|_| ClientError::Unexpected(frame.to_string()))?;
            return match value["type"].as_str() {
                Some("calling") => {
                    let (Some(from), Some(from_client), Some(content)) =
                        (value["from"].as_str(), value["from_client"].as_str(), value["content"].as_str())
                    else {
                        return Err(ClientError::Unexpected(frame.to_string()));
                    };
                    self.device.handle_message(now, from, from_client, content)?;
                    self.flush().await?;
                    Ok(content.to_owned())
                }
                Some("error") => Err(ClientError::Refused(value["error"].as_str().unwrap_or("").to_owned())),
                _ => Err(ClientError::Unexpected(frame.to_string())),
            };
        }
    }

    /// Sends a raw frame, bypassing the state machine (for tests of the
    /// server's checks).
    ///
    /// # Errors
    /// [`ClientError::Socket`] when sending fails.
    pub async fn send_raw(&mut self, frame: String) -> Result<(), ClientError> {
        Ok(self.socket.send(Message::text(frame)).await?)
    }

    /// Sends what the state machine wants sent; keeps the rest for
    /// [`EcallClient::next_event`].
    async fn flush(&mut self) -> Result<(), ClientError> {
        while let Some(output) = self.device.poll_output() {
            match output {
                Output::Send { to, to_client, content } => {
                    let mut frame = json!({ "type": "calling", "to": to, "content": content });
                    if let Some(client) = to_client {
                        frame["to_client"] = json!(client);
                    }
                    self.socket.send(Message::text(frame.to_string())).await?;
                }
                other => self.events.push_back(other),
            }
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
