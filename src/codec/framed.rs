//! [`FramedRead`], [`FramedWrite`] and [`Framed`]: a codec over an
//! `AsyncRead`/`AsyncWrite`, with pooled buffers that ebb.
//!
//! ```text
//!  poll_next: ┌─▶ decode(read buffer) ── frame ──▶ ebb: what is left moves back
//!             │        │ none                        to the small class ─▶ Ready(frame)
//!             │        ▼
//!             │   room? else try_reserve (refused: io::Error, buffers released)
//!             │        ▼
//!             └── poll_read_buf ── Pending: an empty buffer is released ─▶ Pending
//!                        └ 0 bytes: decode_eof, then the end
//! ```

use super::{reserve, Decoder, Encoder};
use crate::{Pool, PooledBytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::{poll_read_buf, poll_write_buf};

/// The read buffer's starting (and ebb-to) capacity: 8 KiB, tokio-util's.
pub const DEFAULT_CAPACITY: usize = 8 << 10;

/// Write buffer bytes above which `poll_ready` flushes first (tokio-util's).
const BACKPRESSURE: usize = 128 << 10;

/// The read half's state.
#[derive(Debug)]
struct ReadState {
    buf: PooledBytesMut,
    /// `buf`'s capacity as last counted in the pool's codec metric.
    counted: usize,
    /// Starting and ebb-to capacity.
    capacity: usize,
    pool: Pool,
    eof: bool,
    readable: bool,
    errored: bool,
}

impl ReadState {
    fn new(pool: &Pool, capacity: usize) -> ReadState {
        ReadState {
            buf: PooledBytesMut::empty_in(Some(pool.heap().clone())),
            counted: 0,
            capacity: capacity.max(1),
            pool: pool.clone(),
            eof: false,
            readable: false,
            errored: false,
        }
    }

    /// After a frame: a small remainder left in a big region moves to a
    /// buffer of the small class, so the big region goes with its frames.
    fn ebb(&mut self) {
        let small = self.capacity;
        if self.buf.len() <= small && self.buf.capacity() > small.saturating_mul(2) {
            if let Ok(mut fresh) = self.pool.try_alloc(small) {
                fresh.extend_from_slice(&self.buf);
                self.buf = fresh;
            }
        }
    }

    /// An error ends the stream; the buffer goes at once.
    fn fail(&mut self) {
        self.errored = true;
        self.buf.clear();
        self.buf.release_if_empty();
    }

    fn poll_next<T, D>(
        &mut self,
        io: Pin<&mut T>,
        cx: &mut Context<'_>,
        decoder: &mut D,
    ) -> Poll<Option<Result<D::Item, D::Error>>>
    where
        T: AsyncRead,
        D: Decoder,
    {
        // A buffer swapped out through `read_buffer_mut` grows here too.
        self.buf.rehome(self.pool.heap());
        let polled = self.poll_frame(io, cx, decoder);
        self.counted = count(&self.pool, self.counted, &self.buf);
        polled
    }

    fn poll_frame<T, D>(
        &mut self,
        mut io: Pin<&mut T>,
        cx: &mut Context<'_>,
        decoder: &mut D,
    ) -> Poll<Option<Result<D::Item, D::Error>>>
    where
        T: AsyncRead,
        D: Decoder,
    {
        loop {
            if self.errored {
                self.errored = false;
                self.readable = false;
                return Poll::Ready(None);
            }
            if self.readable {
                if self.eof {
                    let frame = decoder.decode_eof(&mut self.buf);
                    match frame {
                        Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                        Ok(None) => {
                            self.readable = false;
                            self.buf.release_if_empty();
                            return Poll::Ready(None);
                        }
                        Err(e) => {
                            self.fail();
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                match decoder.decode(&mut self.buf) {
                    Ok(Some(frame)) => {
                        self.ebb();
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    Ok(None) => self.readable = false,
                    Err(e) => {
                        self.fail();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if self.buf.len() == self.buf.capacity() {
                // Never let `BufMut::chunk_mut` grow: at the cap it panics.
                if let Err(e) = reserve(&mut self.buf, self.capacity) {
                    self.fail();
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            match poll_read_buf(io.as_mut(), cx, &mut self.buf) {
                Poll::Pending => {
                    // Waiting for the peer: an empty buffer holds nothing.
                    self.buf.release_if_empty();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    self.fail();
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Ok(0)) => {
                    if self.eof {
                        // Polled again after the end: keep nothing.
                        self.buf.release_if_empty();
                        return Poll::Ready(None);
                    }
                    self.eof = true;
                }
                Poll::Ready(Ok(_)) => self.eof = false,
            }
            self.readable = true;
        }
    }
}

/// Updates the pool's codec metric for `buf` (counted as `counted` so
/// far); returns the new count.
fn count(pool: &Pool, counted: usize, buf: &PooledBytesMut) -> usize {
    let now = buf.capacity();
    if now != counted {
        pool.codec_buffer_resized(counted, now);
    }
    now
}

impl Drop for ReadState {
    fn drop(&mut self) {
        count(&self.pool, self.counted, &PooledBytesMut::default());
    }
}

/// The write half's state.
#[derive(Debug)]
struct WriteState {
    buf: PooledBytesMut,
    pool: Pool,
    /// `buf`'s capacity as last counted in the pool's codec metric.
    counted: usize,
}

impl Drop for WriteState {
    fn drop(&mut self) {
        count(&self.pool, self.counted, &PooledBytesMut::default());
    }
}

impl WriteState {
    fn new(pool: &Pool) -> WriteState {
        WriteState {
            buf: PooledBytesMut::empty_in(Some(pool.heap().clone())),
            pool: pool.clone(),
            counted: 0,
        }
    }

    /// Counts the buffer's capacity after an operation on it.
    fn recount<R>(&mut self, result: R) -> R {
        self.counted = count(&self.pool, self.counted, &self.buf);
        result
    }

    fn poll_ready<T: AsyncWrite>(
        &mut self,
        io: Pin<&mut T>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.buf.len() >= BACKPRESSURE {
            return self.poll_flush(io, cx);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush<T: AsyncWrite>(
        &mut self,
        io: Pin<&mut T>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let flushed = self.poll_flush_buf(io, cx);
        self.recount(flushed)
    }

    fn poll_flush_buf<T: AsyncWrite>(
        &mut self,
        mut io: Pin<&mut T>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.buf.is_empty() {
            // Writing advances the buffer; drained, it releases its region.
            let n = ready!(poll_write_buf(io.as_mut(), cx, &mut self.buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write frame to transport",
                )));
            }
        }
        self.buf.release_if_empty();
        io.poll_flush(cx)
    }

    fn poll_close<T: AsyncWrite>(
        &mut self,
        mut io: Pin<&mut T>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_flush(io.as_mut(), cx))?;
        io.poll_shutdown(cx)
    }
}

/// A `Stream` of frames decoded from an `AsyncRead`, read into a pooled
/// buffer that ebbs (see the [module docs](super)). The reader must be
/// `Unpin` (pin it in a `Box` otherwise).
#[derive(Debug)]
pub struct FramedRead<R, D> {
    inner: R,
    decoder: D,
    state: ReadState,
}

impl<R: AsyncRead + Unpin, D: Decoder> FramedRead<R, D> {
    /// Frames of `decoder` read from `inner`, buffered in `pool`, starting
    /// at [`DEFAULT_CAPACITY`].
    pub fn new(inner: R, decoder: D, pool: &Pool) -> Self {
        FramedRead::with_capacity(inner, decoder, pool, DEFAULT_CAPACITY)
    }

    /// As [`new`](Self::new), with the read buffer starting at (and ebbing
    /// back to) `capacity` bytes.
    pub fn with_capacity(inner: R, decoder: D, pool: &Pool, capacity: usize) -> Self {
        FramedRead {
            inner,
            decoder,
            state: ReadState::new(pool, capacity),
        }
    }
}

impl<R, D> FramedRead<R, D> {
    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The reader, mutably (reading from it directly loses framing).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The reader; buffered bytes are dropped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The decoder, mutably.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.decoder
    }

    /// The read buffer: bytes read and not yet decoded. Its `capacity()` is
    /// the memory the connection holds for reading.
    pub fn read_buffer(&self) -> &PooledBytesMut {
        &self.state.buf
    }

    /// The read buffer, mutably.
    pub fn read_buffer_mut(&mut self) -> &mut PooledBytesMut {
        &mut self.state.buf
    }
}

impl<R: AsyncRead + Unpin, D: Decoder + Unpin> Stream for FramedRead<R, D> {
    type Item = Result<D::Item, D::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.state
            .poll_next(Pin::new(&mut this.inner), cx, &mut this.decoder)
    }
}

/// A `Sink` of items encoded into a pooled buffer and written to an
/// `AsyncWrite`; the buffer holds nothing once flushed. The writer must be
/// `Unpin`.
#[derive(Debug)]
pub struct FramedWrite<W, E> {
    inner: W,
    encoder: E,
    state: WriteState,
}

impl<W: AsyncWrite + Unpin, E> FramedWrite<W, E> {
    /// Items encoded by `encoder`, written to `inner`, buffered in `pool`.
    pub fn new(inner: W, encoder: E, pool: &Pool) -> Self {
        FramedWrite {
            inner,
            encoder,
            state: WriteState::new(pool),
        }
    }
}

impl<W, E> FramedWrite<W, E> {
    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The writer, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The writer; unflushed bytes are dropped.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// The encoder, mutably.
    pub fn encoder_mut(&mut self) -> &mut E {
        &mut self.encoder
    }

    /// The write buffer: encoded bytes not yet written.
    pub fn write_buffer(&self) -> &PooledBytesMut {
        &self.state.buf
    }

    /// The write buffer, mutably.
    pub fn write_buffer_mut(&mut self) -> &mut PooledBytesMut {
        &mut self.state.buf
    }
}

impl<W: AsyncWrite + Unpin, E: Encoder<I> + Unpin, I> Sink<I> for FramedWrite<W, E> {
    type Error = E::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E::Error>> {
        let this = self.get_mut();
        this.state
            .poll_ready(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), E::Error> {
        let this = self.get_mut();
        this.state.buf.rehome(this.state.pool.heap());
        let sent = this.encoder.encode(item, &mut this.state.buf);
        this.state.recount(sent)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E::Error>> {
        let this = self.get_mut();
        this.state
            .poll_flush(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E::Error>> {
        let this = self.get_mut();
        this.state
            .poll_close(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }
}

/// A codec over one transport that both reads and writes: a `Stream` of
/// decoded frames and a `Sink` of items, with pooled buffers that ebb.
#[derive(Debug)]
pub struct Framed<T, C> {
    inner: T,
    codec: C,
    read: ReadState,
    write: WriteState,
}

impl<T: AsyncRead + AsyncWrite + Unpin, C> Framed<T, C> {
    /// Frames of `codec` over `inner`, buffered in `pool`.
    pub fn new(inner: T, codec: C, pool: &Pool) -> Self {
        Framed::with_capacity(inner, codec, pool, DEFAULT_CAPACITY)
    }

    /// As [`new`](Self::new), with the read buffer starting at (and ebbing
    /// back to) `capacity` bytes.
    pub fn with_capacity(inner: T, codec: C, pool: &Pool, capacity: usize) -> Self {
        Framed {
            inner,
            codec,
            read: ReadState::new(pool, capacity),
            write: WriteState::new(pool),
        }
    }
}

impl<T, C> Framed<T, C> {
    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The transport, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The transport; buffered bytes are dropped.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The codec, mutably.
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.codec
    }

    /// The read buffer.
    pub fn read_buffer(&self) -> &PooledBytesMut {
        &self.read.buf
    }

    /// The write buffer.
    pub fn write_buffer(&self) -> &PooledBytesMut {
        &self.write.buf
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin, C: Decoder + Unpin> Stream for Framed<T, C> {
    type Item = Result<C::Item, C::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.read
            .poll_next(Pin::new(&mut this.inner), cx, &mut this.codec)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin, C: Encoder<I> + Unpin, I> Sink<I> for Framed<T, C> {
    type Error = C::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        let this = self.get_mut();
        this.write
            .poll_ready(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), C::Error> {
        let this = self.get_mut();
        this.write.buf.rehome(this.write.pool.heap());
        let sent = this.codec.encode(item, &mut this.write.buf);
        this.write.recount(sent)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        let this = self.get_mut();
        this.write
            .poll_flush(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        let this = self.get_mut();
        this.write
            .poll_close(Pin::new(&mut this.inner), cx)
            .map_err(Into::into)
    }
}
