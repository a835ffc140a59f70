//! Sockets that hold a read buffer only while they have unread bytes.
//!
//! Two costs pull a WebSocket server's read buffer in opposite directions.
//! Each read syscall should take as much as the kernel holds (several relayed
//! frames at once), which wants a large buffer; yet an idle session should
//! cost next to nothing, and tungstenite allocates its read buffer, at its
//! full size, for every connection up front and keeps it. Measured here:
//! with a 4 KiB tungstenite buffer an idle session took 8.7 KiB, and a relay
//! of 4 KB messages made one `recvfrom` per message where a bare relay with
//! 128 KiB buffers made one per eight.
//!
//! [`LazyReadStream`] settles it below tungstenite. When its reader asks for
//! less than [`SCRATCH_BYTES`], it reads up to that much into scratch space
//! on the stack, hands over what fits and keeps the rest in a buffer sized to
//! the rest, freed as soon as it has been handed over. Reads that ask for
//! more go straight to the socket. So tungstenite's own buffer can be small
//! ([`crate::ws::READ_BUFFER_BYTES`]), a read syscall still takes up to
//! 64 KiB, and an idle connection holds no read buffer at all.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

/// The most one read syscall takes for a small reader: 64 KiB, as much as
/// loopback usually has ready, on the stack and never initialised.
pub(crate) const SCRATCH_BYTES: usize = 64 * 1024;

/// A stream whose read-ahead buffer exists only while it holds bytes.
#[derive(Debug)]
pub(crate) struct LazyReadStream<S> {
    inner: S,
    /// Bytes read from the socket but not yet taken, from `taken` on; empty
    /// (and unallocated) when everything read has been handed over.
    ahead: Vec<u8>,
    taken: usize,
}

impl<S> LazyReadStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner, ahead: Vec::new(), taken: 0 }
    }

    /// Hands over read-ahead bytes; frees the buffer once it is drained.
    fn take_ahead(&mut self, buf: &mut ReadBuf<'_>) {
        let n = (self.ahead.len() - self.taken).min(buf.remaining());
        buf.put_slice(&self.ahead[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.ahead.len() {
            self.ahead = Vec::new();
            self.taken = 0;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LazyReadStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.ahead.is_empty() {
            this.take_ahead(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SCRATCH_BYTES {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH_BYTES];
        let mut scratch = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
        let read = scratch.filled();
        let fits = read.len().min(buf.remaining());
        buf.put_slice(&read[..fits]);
        if fits < read.len() {
            this.ahead = read[fits..].to_vec();
        }
        Poll::Ready(Ok(()))
    }
}

/// Implements `AsyncWrite` for a read shim (`$shim<S>` with an `inner: S`)
/// by writing straight through to `inner`: the shims change reads only.
macro_rules! write_through {
    ($shim:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $shim<S> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}
pub(crate) use write_through;

write_through!(LazyReadStream);

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Reads with a `size`-byte buffer until `want` bytes have come.
    async fn read_in_pieces<S: AsyncRead + Unpin>(stream: &mut S, size: usize, want: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut piece = vec![0; size];
        while got.len() < want {
            let n = stream.read(&mut piece).await.expect("read");
            assert!(n > 0, "stream ended after {} of {want} bytes", got.len());
            got.extend_from_slice(&piece[..n]);
        }
        got
    }

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order_and_the_buffer_is_freed() {
        let (mut writer, reader) = tokio::io::duplex(1 << 20);
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&sent).await.expect("write");
        let mut stream = LazyReadStream::new(reader);
        let got = read_in_pieces(&mut stream, 512, sent.len()).await;
        assert_eq!(got, sent);
        assert_eq!(stream.ahead.capacity(), 0, "nothing left unread, nothing held");
    }

    #[tokio::test]
    async fn a_small_read_takes_more_from_the_socket_and_keeps_only_the_rest() {
        let (mut writer, reader) = tokio::io::duplex(1 << 20);
        writer.write_all(&[7; 10_000]).await.expect("write");
        let mut stream = LazyReadStream::new(reader);
        let mut piece = [0; 512];
        assert_eq!(stream.read(&mut piece).await.expect("read"), 512);
        assert_eq!(stream.ahead.len() - stream.taken, 10_000 - 512);
        assert_eq!(stream.ahead.capacity(), 10_000 - 512, "sized to what is left");
    }

    #[tokio::test]
    async fn large_reads_go_straight_to_the_socket() {
        let (mut writer, reader) = tokio::io::duplex(1 << 20);
        writer.write_all(&[1; 100_000]).await.expect("write");
        let mut stream = LazyReadStream::new(reader);
        let mut big = vec![0; SCRATCH_BYTES];
        let n = stream.read(&mut big).await.expect("read");
        assert!(n > 0);
        assert!(stream.ahead.is_empty());
    }

    #[tokio::test]
    async fn the_end_of_the_stream_comes_through_after_the_bytes_ahead() {
        let (mut writer, reader) = tokio::io::duplex(1 << 16);
        writer.write_all(b"hello, world").await.expect("write");
        drop(writer);
        let mut stream = LazyReadStream::new(reader);
        let mut piece = [0; 5];
        let mut got = Vec::new();
        loop {
            let n = stream.read(&mut piece).await.expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got, b"hello, world");
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let (mut far, near) = tokio::io::duplex(1 << 16);
        let mut stream = LazyReadStream::new(near);
        stream.write_all(b"ping").await.expect("write");
        stream.flush().await.expect("flush");
        let mut got = [0; 4];
        far.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"ping");
    }
}
