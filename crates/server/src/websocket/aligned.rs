//! A read shim below tungstenite that hands it whole WebSocket frames only.
//!
//! tungstenite keeps its read buffer at the size of the largest frame it
//! has read, and its write buffer at the largest batch, for as long as the
//! connection lives, and has no call to shrink them. A session that relayed
//! one 6 KB SDP held 16 KiB for the rest of its life, against 4 KiB for one
//! that never called. The cure is to build a fresh tungstenite when the
//! session is idle ([`super::ServerSocket`]), which is only sound when
//! tungstenite holds nothing unread: no part of a frame, and no part of a
//! fragmented message.
//!
//! [`FrameAligned`] makes that knowable. It reads from the socket into a
//! buffer of its own, sized to what it holds and freed when drained, and
//! gives tungstenite the bytes of a frame only once the whole frame has
//! arrived. Whenever tungstenite has returned a message or is waiting for
//! input, it has therefore consumed every byte it was given, and
//! [`FrameAligned::between_messages`] says whether the last frame ended a
//! message. Frames announcing more than `max_frame` bytes are passed through
//! as they come, for tungstenite to refuse with its size error as before.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

/// The most one read syscall takes: 64 KiB, on the stack, never initialised.
const SCRATCH_BYTES: usize = 64 * 1024;

/// A stream whose reader sees whole frames at a time.
#[derive(Debug)]
pub(crate) struct FrameAligned<S> {
    inner: S,
    /// Bytes read but not yet handed over, from `taken` on; unallocated
    /// when empty.
    ahead: Vec<u8>,
    taken: usize,
    /// Bytes of the frame being handed over that are still to go; 0 at a
    /// frame boundary.
    frame_left: u64,
    /// The frames handed over so far began a data message that no frame
    /// has finished yet (FIN unset).
    in_fragmented_message: bool,
    /// Alignment given up: a frame over the limit, or the stream's end.
    passthrough: bool,
    /// Frames longer than this are passed through unaligned.
    max_frame: u64,
}

/// What the head of the buffered bytes holds.
enum Head {
    /// Not yet a whole frame.
    Incomplete,
    /// A whole frame of this many bytes, header included.
    Frame { len: u64, fin: bool, opcode: u8 },
    /// A frame announcing more than the size limit.
    Oversized,
}

/// Reads a frame header (RFC 6455 §5.2) from the start of `bytes`.
fn head(bytes: &[u8], max_frame: u64) -> Head {
    let [first, second, ..] = *bytes else { return Head::Incomplete };
    let (fin, opcode) = (first & 0x80 != 0, first & 0x0f);
    let mask_bytes = if second & 0x80 != 0 { 4 } else { 0 };
    let (length_bytes, payload) = match second & 0x7f {
        126 => match bytes.get(2..4) {
            Some(len) => (2, u64::from(u16::from_be_bytes([len[0], len[1]]))),
            None => return Head::Incomplete,
        },
        127 => match bytes.get(2..10) {
            Some(len) => (8, u64::from_be_bytes(len.try_into().expect("8 bytes"))),
            None => return Head::Incomplete,
        },
        short => (0, u64::from(short)),
    };
    if payload > max_frame {
        return Head::Oversized;
    }
    // Checked: `max_frame` may be near `u64::MAX`.
    let Some(len) = payload.checked_add(2 + length_bytes + mask_bytes) else { return Head::Oversized };
    if (bytes.len() as u64) < len {
        return Head::Incomplete;
    }
    Head::Frame { len, fin, opcode }
}

impl<S> FrameAligned<S> {
    /// `inner`, whose frames over `max_frame` payload bytes pass unaligned.
    pub(crate) fn new(inner: S, max_frame: usize) -> Self {
        Self {
            inner,
            ahead: Vec::new(),
            taken: 0,
            frame_left: 0,
            in_fragmented_message: false,
            passthrough: false,
            max_frame: max_frame as u64,
        }
    }

    /// Whether the reader has been given whole messages only: every frame
    /// handed over is complete, and none left a fragmented message open.
    pub(crate) fn between_messages(&self) -> bool {
        self.frame_left == 0 && !self.in_fragmented_message && !self.passthrough
    }

    fn buffered(&self) -> &[u8] {
        &self.ahead[self.taken..]
    }

    /// Starts handing over the frame at the head of the buffer, if it has
    /// arrived whole.
    fn start_frame(&mut self) {
        match head(self.buffered(), self.max_frame) {
            Head::Incomplete => {}
            // tungstenite refuses it from its header, and the connection ends.
            Head::Oversized => self.passthrough = true,
            Head::Frame { len, fin, opcode } => {
                self.frame_left = len;
                match opcode {
                    // Text or binary: a message, finished by this frame or later.
                    1 | 2 => self.in_fragmented_message = !fin,
                    // A continuation: the last one finishes the message.
                    0 if fin => self.in_fragmented_message = false,
                    // Control frames come whole, between or inside messages.
                    _ => {}
                }
            }
        }
    }

    /// Hands over up to `limit` buffered bytes; frees the buffer once it is
    /// drained. Returns how many.
    fn hand_over(&mut self, buf: &mut ReadBuf<'_>, limit: u64) -> usize {
        let n = self.buffered().len().min(buf.remaining()).min(usize::try_from(limit).unwrap_or(usize::MAX));
        buf.put_slice(&self.ahead[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.ahead.len() {
            self.ahead = Vec::new();
            self.taken = 0;
        }
        n
    }

    /// Keeps `read` behind what is buffered.
    fn buffer(&mut self, read: &[u8]) {
        self.ahead.drain(..self.taken);
        self.taken = 0;
        self.ahead.extend_from_slice(read);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameAligned<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.passthrough {
                if this.hand_over(buf, u64::MAX) > 0 {
                    return Poll::Ready(Ok(()));
                }
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            if this.frame_left == 0 {
                this.start_frame();
            }
            if this.frame_left > 0 {
                // The whole frame is buffered: this hands over at least a byte.
                this.frame_left -= this.hand_over(buf, this.frame_left) as u64;
                return Poll::Ready(Ok(()));
            }
            if this.passthrough {
                continue;
            }
            let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH_BYTES];
            let mut scratch = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
            if scratch.filled().is_empty() {
                // The end of the stream: what is left goes over as it is,
                // for tungstenite to find the frame cut short, then the end.
                this.passthrough = true;
                continue;
            }
            this.buffer(scratch.filled());
        }
    }
}

crate::lazy_read::write_through!(FrameAligned);
