//! HLS playlist writers: pure functions from a playlist model to text.
//!
//! [`write_media`] renders one snapshot of a live fMP4 media playlist
//! (rfc8216bis-22 protocol version 6, LL-HLS tags modelled for later) and
//! [`write_multivariant`] the multivariant playlist of a publish. Both
//! validate the model against the MUST rules they can see (HLS-PL-01…09,
//! HLS-MV-01…03, LLHLS-01…05) and return an [`HlsError`] instead of a
//! playlist that players would reject or misplay. Neither reads a clock or
//! keeps state: durations are exact tick counts ([`MediaDuration`]) and
//! dates are supplied in the model, so the same model always renders the
//! same bytes.
//!
//! Weir writes its own playlists rather than using `m3u8-rs`, which drops
//! playlist-level tags LL-HLS needs and stores EXTINF as `f32`; the tests
//! parse every output back with `m3u8-rs`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod error;
mod media;
mod multivariant;
mod text;
mod time;
mod update;

pub use error::HlsError;
pub use media::{
    nonconforming_part, write_media, MapRef, MediaPlaylist, Part, PartialSegment, PreloadHint,
    PreloadHintKind, RenditionReport, Segment, ServerControl, DELTA_VERSION, MEDIA_VERSION,
};
pub use multivariant::{
    write_multivariant, AudioRendition, Multivariant, VideoVariant, MULTIVARIANT_MEDIA_VERSION,
};
pub use time::{
    availability_duration, format_program_date_time, round_half_up_secs, Decimal, MediaDuration,
    DURATION_DECIMALS,
};
pub use update::check_update;
