//! W3C Trace Context `traceparent`: read from a request or an event's
//! `traceparent` extension, kept with the event, handed on to what it causes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PlayerEvent;

/// The name of the HTTP header and of the CloudEvent extension.
pub const TRACEPARENT: &str = "traceparent";

/// Characters of a version-00 `traceparent`.
const LEN: usize = 55;

/// A valid `traceparent`: which trace, which span caused this, and the trace flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// A context from its parts; `None` when an id is all zeros (invalid).
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Option<Self> {
        let valid = trace_id != [0; 16] && parent_id != [0; 8];
        valid.then_some(Self { trace_id, parent_id, flags })
    }

    /// Reads `version-traceid-parentid-flags` as W3C Trace Context level 1 says:
    /// lower-case hex, no all-zero id, version `ff` invalid, and a later version
    /// read by its first four fields (what follows them starts with `-`).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let head = bytes.get(..LEN)?;
        let exact = match hex::<1>(&head[..2])?[0] {
            0xff => return None,
            0 => bytes.len() == LEN,
            _ => bytes.get(LEN).is_none_or(|&b| b == b'-'),
        };
        let dashes = [2, 35, 52].iter().all(|&i| head[i] == b'-');
        if !exact || !dashes {
            return None;
        }
        Self::new(hex(&head[3..35])?, hex(&head[36..52])?, hex::<1>(&head[53..55])?[0])
    }

    /// The trace this belongs to.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The span that caused this.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The trace id as 32 hex digits.
    pub fn trace_id_hex(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// The context of a span this one caused: the same trace and flags, `span_id`
    /// as the parent; `None` when `span_id` is all zeros.
    pub fn child(&self, span_id: [u8; 8]) -> Option<Self> {
        Self::new(self.trace_id, span_id, self.flags)
    }
}

impl fmt::Display for TraceParent {
    /// Version 00, whatever version was read: the one this code speaks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", to_hex(&self.trace_id), to_hex(&self.parent_id), self.flags)
    }
}

impl Serialize for TraceParent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TraceParent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a valid traceparent")))
    }
}

impl PlayerEvent {
    /// The event's trace context: its `traceparent` extension, when valid.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        self.extensions.get(TRACEPARENT).and_then(|v| v.as_str()).and_then(TraceParent::parse)
    }

    /// Settles the event's `traceparent` extension: its own when valid, else
    /// `fallback` (the request's), else none. An invalid one is dropped, so a
    /// stored `traceparent` can always be trusted.
    pub fn adopt_trace(&mut self, fallback: Option<TraceParent>) {
        match self.trace_parent().or(fallback) {
            Some(trace) => self.extensions.insert(TRACEPARENT.to_owned(), trace.to_string().into()),
            None => self.extensions.remove(TRACEPARENT),
        };
    }
}

/// Lower-case hex digits as `N` bytes.
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(bytes)
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
