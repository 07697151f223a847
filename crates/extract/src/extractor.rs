//! The [`Extractor`] trait.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{CallContext, Extraction, ExtractorInfo, Transcript};

/// Reads a call's transcript and returns the appointments it asks for.
///
/// # Contract
/// * The result serialises to the extraction JSON of DESIGN.md §5 and passes [`crate::validate::check`]: phones in
///   E.164, confidences in `[0, 1]`, dates consistent with start/end. Built-in extractors run
///   [`crate::validate::sanitize`] before returning, so a value with no support in the transcript or caller ID is
///   dropped, and the business's own phone numbers and addresses are never returned as the customer's.
/// * Dates and times are resolved by [`crate::datetime`] against `context.started_at` in `context.timezone`: the
///   same transcript and context give the same `when`, whichever extractor found the phrase.
/// * An empty, spam or wrong-number call is not an error: it is an [`Extraction`] with that call kind and no
///   appointments. Errors are for calls that could not be read at all ([`crate::Error::is_retryable`] says
///   whether to try again).
/// * Implementations never log transcript text, names, phone numbers or addresses.
#[async_trait]
pub trait Extractor: Send + Sync + Debug + 'static {
    /// The extractor's identity, as written into [`Extraction::extractor`].
    fn info(&self) -> ExtractorInfo;

    /// Extracts the appointments of one call.
    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction>;
}

#[async_trait]
impl<T: Extractor + ?Sized> Extractor for Arc<T> {
    fn info(&self) -> ExtractorInfo {
        (**self).info()
    }

    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction> {
        (**self).extract(transcript, context).await
    }
}

#[async_trait]
impl<T: Extractor + ?Sized> Extractor for Box<T> {
    fn info(&self) -> ExtractorInfo {
        (**self).info()
    }

    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction> {
        (**self).extract(transcript, context).await
    }
}

/// The extractor as a trait object.
pub type DynExtractor = dyn Extractor;

// Compile-time check that the trait stays object-safe.
const _: Option<&DynExtractor> = None;
