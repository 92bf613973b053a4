//! DASH: a dynamic MPD over the very CMAF segments HLS lists.
//!
//! [`PeriodClock`] keeps the presentation timeline on the wall clock
//! (AST, Period starts, the drift guard); [`live_mpd`] turns one update of
//! the live windows into an [`Mpd`] model and [`write_mpd`] renders it. No
//! clock is read and no state is kept outside the clock, so the same input
//! always renders the same bytes.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod live;
mod mpd;

pub use crate::clock::{MediaTime, PeriodAnchor, PeriodClock, Verdict};
pub use live::{live_mpd, LiveState, LowLatencyDash, MpdSettings};
pub use mpd::{
    write_mpd, xs_duration, AdaptationSet, Cicp, ContentType, MediaAttributes, Mpd, MpdError,
    Period, ProducerReferenceTime, Representation, SegmentTemplate, ServiceDescription,
    TimelineEntry, UtcTiming, AUDIO_CHANNELS_SCHEME, PROFILES, UTC_HTTP_HEAD, UTC_HTTP_ISO,
};
