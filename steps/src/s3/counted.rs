//! A streamed body that counts the bytes it hands on, so a copy's progress moves while a large
//! object streams rather than when it is done.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::transfer::Progress;

struct Counted {
    inner: SdkBody,
    progress: Arc<Progress>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.progress.add_bytes(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        Body::size_hint(&self.inner)
    }
}

/// `body`, counting into `progress` as it is read.
pub fn counted(body: ByteStream, progress: &Arc<Progress>) -> ByteStream {
    ByteStream::new(SdkBody::from_body_1_x(Counted {
        inner: body.into_inner(),
        progress: progress.clone(),
    }))
}
