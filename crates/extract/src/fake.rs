//! Test doubles that always compile: [`ScriptedExtractor`] answers from a queue and records what it was asked.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::extractor::Extractor;
use crate::types::{CallContext, Extraction, ExtractorInfo, Transcript};

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The transcript text.
    pub transcript: String,
    /// The call's start instant.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The business zone.
    pub timezone: chrono_tz::Tz,
}

/// An extractor that returns queued responses in order and **fails with [`Error::ScriptExhausted`] when the script
/// runs out**. Every request is recorded. Extractions are passed through [`crate::validate::sanitize`] like every
/// built-in extractor's, so a scripted hallucination is dropped the same way.
#[derive(Debug, Default)]
pub struct ScriptedExtractor {
    script: Mutex<VecDeque<Result<Extraction>>>,
    requests: Mutex<Vec<Request>>,
}

impl ScriptedExtractor {
    /// An extractor with an empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues an extraction.
    #[must_use]
    pub fn then_extraction(self, extraction: Extraction) -> Self {
        self.push(Ok(extraction));
        self
    }

    /// Queues an error.
    #[must_use]
    pub fn then_error(self, error: Error) -> Self {
        self.push(Err(error));
        self
    }

    /// Queues a response on a shared extractor.
    pub fn push(&self, response: Result<Extraction>) {
        self.script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(response);
    }

    /// What was asked so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many responses are still queued.
    pub fn remaining(&self) -> usize {
        self.script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[async_trait]
impl Extractor for ScriptedExtractor {
    fn info(&self) -> ExtractorInfo {
        ExtractorInfo::builtin("fake", None)
    }

    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Request {
                transcript: transcript.text.clone(),
                started_at: context.started_at,
                timezone: context.timezone,
            });
        let next = self
            .script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        match next {
            Some(Ok(extraction)) => Ok(crate::validate::sanitize(extraction, transcript, context)),
            Some(Err(error)) => Err(error),
            None => Err(Error::ScriptExhausted),
        }
    }
}
