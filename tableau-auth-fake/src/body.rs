//! Response bodies: plain, huge (lazily streamed) and truncated.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};

/// Error type of response bodies and of the service.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The response body type of the fake.
pub(crate) type ResBody = BoxBody<Bytes, BoxError>;

/// A complete body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

const CHUNK_LEN: usize = 64 * 1024;
static CHUNK: [u8; CHUNK_LEN] = [b'<'; CHUNK_LEN];

/// `remaining` bytes of `<`, yielded in 64 KiB slices of one static buffer (nothing allocated
/// per byte; hyper only polls as fast as the client reads).
pub(crate) struct HugeBody {
    remaining: u64,
}

impl HugeBody {
    pub(crate) fn new(bytes: u64) -> Self {
        Self { remaining: bytes }
    }
}

impl Body for HugeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = usize::try_from(self.remaining)
            .unwrap_or(CHUNK_LEN)
            .min(CHUNK_LEN);
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Sends `head`, waits a little (so hyper flushes it), then fails, which makes hyper close the
/// connection before the promised `Content-Length` is reached.
pub(crate) struct TruncatedBody {
    head: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl TruncatedBody {
    pub(crate) fn new(head: impl Into<Bytes>) -> Self {
        Self {
            head: Some(head.into()),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        }
    }
}

impl Body for TruncatedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err("truncated on purpose".into()))),
        }
    }
}
