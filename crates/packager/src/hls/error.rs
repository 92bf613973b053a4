//! Why a playlist model could not be written.

/// A playlist model that would produce an invalid playlist.
///
/// Every variant describes the *model*: the writers are pure functions, so a
/// caller that gets one has a bug (or a stream that breaks an HLS rule, such
/// as a GOP longer than the target duration) and must fix the model; writing
/// it again will fail the same way.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HlsError {
    /// EXT-X-TARGETDURATION must be at least 1 (rfc8216bis §4.4.3.1).
    #[error("EXT-X-TARGETDURATION must be at least 1")]
    ZeroTargetDuration,
    /// A segment's EXTINF, rounded to the nearest integer, exceeds
    /// EXT-X-TARGETDURATION (HLS-PL-02, HLS-LIVE-01).
    #[error(
        "segment {index} ({uri}): EXTINF {extinf} rounds to {rounded} s, \
         above EXT-X-TARGETDURATION {target}"
    )]
    SegmentOverTarget {
        /// Position in [`MediaPlaylist::segments`](super::MediaPlaylist::segments).
        index: usize,
        /// The segment's URI.
        uri: String,
        /// EXTINF as it would have been printed.
        extinf: String,
        /// EXTINF rounded half up to whole seconds.
        rounded: u64,
        /// The playlist's target duration.
        target: u32,
    },
    /// A string cannot be written where the model puts it: an empty value,
    /// a control character (HLS-PL-09), a `"` inside a quoted-string, or a
    /// URI that is not a relative reference.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidString {
        /// The attribute or line the string is written to.
        what: &'static str,
        /// The offending string.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A live playlist (no EXT-X-ENDLIST) that lists neither a segment nor a
    /// partial segment.
    #[error("a live media playlist must list at least one segment or part")]
    EmptyLivePlaylist,
    /// A segment uses a different EXT-X-MAP than the one before it without an
    /// EXT-X-DISCONTINUITY: a new init segment means new track parameters
    /// (HLS-PL-04, HLS-PL-05; pitfall 17).
    #[error("segment {index} changes EXT-X-MAP without EXT-X-DISCONTINUITY")]
    MapChangeWithoutDiscontinuity {
        /// Position of the segment (the partial segment counts as
        /// `segments.len()`).
        index: usize,
    },
    /// The playlist uses EXT-X-PROGRAM-DATE-TIME (or is low-latency, which
    /// requires it) but the first segment or a segment after a
    /// discontinuity has none (HLS-PL-07).
    #[error("segment {index} needs EXT-X-PROGRAM-DATE-TIME")]
    MissingProgramDateTime {
        /// Position of the segment (the partial segment counts as
        /// `segments.len()`).
        index: usize,
    },
    /// A program date-time before 1970 or after 9999.
    #[error("EXT-X-PROGRAM-DATE-TIME outside 1970..=9999")]
    ProgramDateTimeOutOfRange,
    /// An inconsistent low-latency configuration: parts without
    /// PART-TARGET, a part longer than PART-TARGET, a hold-back below its
    /// minimum, a preload hint after ENDLIST, a skip the server control does
    /// not allow (LLHLS-01…05, LLHLS-09).
    #[error("low-latency HLS: {detail}")]
    LowLatency {
        /// The rule broken, with the values involved.
        detail: String,
    },
    /// A multivariant playlist with neither video nor audio.
    #[error("a multivariant playlist needs video or audio")]
    NoMedia,
    /// A numeric value out of range (zero BANDWIDTH, RESOLUTION or
    /// CHANNELS; a FRAME-RATE that is not a positive finite number; a
    /// bandwidth sum that overflows).
    #[error("invalid {what}: {detail}")]
    InvalidValue {
        /// The attribute.
        what: &'static str,
        /// The offending value and the rule.
        detail: String,
    },
    /// Two successive snapshots of one media playlist differ in a way a
    /// live playlist may not change (HLS-PL-02, HLS-PL-03, HLS-PL-04,
    /// HLS-LIVE-05).
    #[error("invalid playlist update: {detail}")]
    InvalidUpdate {
        /// The rule broken.
        detail: String,
    },
}

impl HlsError {
    pub(crate) fn low_latency(detail: impl Into<String>) -> Self {
        Self::LowLatency {
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_value(what: &'static str, detail: impl Into<String>) -> Self {
        Self::InvalidValue {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_update(detail: impl Into<String>) -> Self {
        Self::InvalidUpdate {
            detail: detail.into(),
        }
    }
}
