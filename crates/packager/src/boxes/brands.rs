//! Brand policy for `ftyp` (init segments) and `styp` (media segments),
//! kept apart from the box encoders.

/// `ftyp` major brand of every init segment.
///
/// `iso6` is the ISO-BMFF brand HLS asks for ("compatible with `iso6` or
/// higher", MP4-INIT-01): it covers what our fragments use (64-bit `tfdt`,
/// `default-base-is-moof`, signed `trun` v1 composition offsets).
pub const FTYP_MAJOR: [u8; 4] = *b"iso6";

/// `ftyp` minor version.
pub const FTYP_MINOR: u32 = 0;

/// `ftyp` compatible brands: `iso6` again (the major brand belongs in the
/// list too) and `cmfc`, the CMAF structural brand for a CMAF header of a
/// one-track CMAF track file (MP4-INIT-01, MP4-INIT-04).
///
/// Deliberately absent: `mp41`/`isom` (no player we target checks them, and
/// they promise nothing about fragments), `cmf2` (its extra constraints are
/// not checked here) and CMAF media-profile brands such as `cfhd`, which
/// constrain the codec level and would be claims about the publisher's
/// encode that Weir cannot vouch for.
pub const FTYP_COMPATIBLE: [[u8; 4]; 2] = [*b"iso6", *b"cmfc"];

/// `styp` major brand of the first chunk of a media segment.
///
/// `msdh` marks a DASH media segment (ISO/IEC 23009-1 §6.3.4.2); HLS does
/// not look at it.
pub const STYP_MAJOR: [u8; 4] = *b"msdh";

/// `styp` minor version.
pub const STYP_MINOR: u32 = 0;

/// `styp` compatible brands: `msdh`, `cmfs` (the segment is a CMAF segment)
/// and `cmff` (it holds one CMAF fragment, which may be sent as several
/// `moof`+`mdat` chunks, MP4-SEG-14).
///
/// Deliberately absent: `msix` (promises a `sidx`, which Weir does not
/// write) and `cmfl` (marks a file that is a single CMAF chunk; a segment
/// made of chunks is not itself one).
pub const STYP_COMPATIBLE: [[u8; 4]; 3] = [*b"msdh", *b"cmfs", *b"cmff"];
