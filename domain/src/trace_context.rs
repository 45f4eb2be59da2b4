//! W3C Trace Context `traceparent`: read from a request or an event's
//! `traceparent` extension, kept with the event, handed on to what it causes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{PlayerEvent, to_hex};

/// The name of the HTTP header and of the CloudEvent extension.
pub const TRACEPARENT: &str = "traceparent";

/// The name of the vendor trace state's HTTP header and CloudEvent extension.
pub const TRACESTATE: &str = "tracestate";

/// Most characters of a `tracestate` kept (W3C Trace Context: 512 at least).
const TRACESTATE_LEN: usize = 512;

/// A request's trace context: its `traceparent` and, with it, its `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// Which trace, which span.
    pub parent: TraceParent,
    /// Vendors' trace state, kept as sent when it is printable ASCII of at most 512 characters.
    pub state: Option<String>,
}

impl TraceContext {
    /// The context of `traceparent` and `tracestate` as sent; none without a valid `traceparent`.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let state = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= TRACESTATE_LEN && s.bytes().all(|b| (b' '..=b'~').contains(&b)))
            .map(str::to_owned);
        TraceParent::parse(traceparent).map(|parent| Self { parent, state })
    }
}

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

    /// Settles the event's trace context: its own `traceparent` (and
    /// `tracestate`) when valid, else `fallback`'s (the request's), else none.
    /// An invalid one is dropped, with the `tracestate` that went with it, so a
    /// stored `traceparent` can always be trusted.
    pub fn adopt_trace(&mut self, fallback: Option<&TraceContext>) {
        let (parent, state) = match (self.trace_parent(), fallback) {
            (Some(own), _) => (own, self.extensions.get(TRACESTATE).cloned()),
            (None, Some(request)) => (request.parent, request.state.clone().map(Into::into)),
            (None, None) => {
                self.extensions.remove(TRACEPARENT);
                self.extensions.remove(TRACESTATE);
                return;
            }
        };
        self.extensions.insert(TRACEPARENT.to_owned(), parent.to_string().into());
        match state {
            Some(state) => self.extensions.insert(TRACESTATE.to_owned(), state),
            None => self.extensions.remove(TRACESTATE),
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

#[cfg(test)]
mod tests;
