//! The multivariant playlist: one variant stream per publish (rfc8216bis
//! §4.4.6, HLS-MV-01…04).

use super::text::{check_language, check_quoted, check_uri, line, Attrs};
use super::HlsError;

/// EXT-X-VERSION written when the playlist has an EXT-X-MEDIA tag.
///
/// No tag or attribute Weir writes here needs a version above 1
/// (rfc8216bis §8 lists none for BANDWIDTH, AVERAGE-BANDWIDTH, CODECS,
/// RESOLUTION, FRAME-RATE, AUDIO, CHANNELS, SAMPLE-RATE or
/// EXT-X-INDEPENDENT-SEGMENTS), and the version SHOULD NOT be higher than
/// needed, so playlists without EXT-X-MEDIA carry no EXT-X-VERSION at all.
/// With an audio rendition, §8 suggests (MAY) 4 or higher so that clients
/// too old to understand EXT-X-MEDIA do not play the video without its
/// audio; Weir follows that suggestion.
pub const MULTIVARIANT_MEDIA_VERSION: u32 = 4;

/// What the publish carries; at least one video variant or audio rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct Multivariant {
    /// One variant per video track.
    pub video: Vec<VideoVariant>,
    /// One rendition per audio track, all in one group; the first is the
    /// default.
    pub audio: Vec<AudioRendition>,
    /// EXT-X-INDEPENDENT-SEGMENTS: every segment of every media playlist
    /// starts with a keyframe (HLS-PL-06).
    pub independent_segments: bool,
}

/// The video media playlist and what the STREAM-INF says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoVariant {
    /// URI of the video media playlist, relative to the multivariant one.
    pub uri: String,
    /// RFC 6381 codec string from the real decoder configuration
    /// (`avc1.64001f`, `hvc1.…`), never a guess (HLS-MV-03, HLS-MV-04).
    pub codecs: String,
    /// RESOLUTION width in pixels (after SPS cropping).
    pub width: u32,
    /// RESOLUTION height in pixels.
    pub height: u32,
    /// FRAME-RATE, written with three decimals. Use a robust estimate
    /// (pitfall 41), not the shortest frame duration.
    pub frame_rate: Option<f64>,
    /// Peak segment bit rate of the video playlist, bits per second.
    pub bandwidth: u64,
    /// Average segment bit rate, if known.
    pub average_bandwidth: Option<u64>,
    /// VIDEO-RANGE `PQ` or `HLG`; absent means SDR, which is what players
    /// assume without it.
    pub video_range: Option<&'static str>,
}

/// The audio media playlist, as an EXT-X-MEDIA rendition next to video or
/// as the only variant of an audio-only publish.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    /// URI of the audio media playlist, relative to the multivariant one.
    pub uri: String,
    /// RFC 6381 codec string (`mp4a.40.2`) from the AudioSpecificConfig.
    pub codecs: String,
    /// CHANNELS: channel count from the AudioSpecificConfig.
    pub channels: u8,
    /// SAMPLE-RATE in Hz, if known.
    pub sample_rate: Option<u32>,
    /// Peak segment bit rate of the audio playlist, bits per second.
    pub bandwidth: u64,
    /// Average segment bit rate, if known.
    pub average_bandwidth: Option<u64>,
    /// GROUP-ID, referenced by the video STREAM-INF's AUDIO attribute.
    pub group_id: String,
    /// NAME, the label players show.
    pub name: String,
    /// LANGUAGE (RFC 5646), if known.
    pub language: Option<String>,
}

/// Renders `m` as a multivariant playlist (LF line endings).
///
/// - **Video and audio**: one EXT-X-MEDIA TYPE=AUDIO (DEFAULT=YES,
///   AUTOSELECT=YES, CHANNELS, URI) and one EXT-X-STREAM-INF for the video
///   playlist with `AUDIO="<group>"`, CODECS listing both codecs, BANDWIDTH
///   the sum of both peaks and AVERAGE-BANDWIDTH the sum of both averages
///   when both are known (HLS-MV-01, HLS-MV-02).
/// - **Video only**: the STREAM-INF alone, video CODECS only, no AUDIO
///   group (HLS-MV-03), so no player waits for an audio track.
/// - **Audio only**: one STREAM-INF pointing straight at the audio
///   playlist with audio CODECS only, and no EXT-X-MEDIA. This is the form
///   of rfc8216bis's own examples (§9.4); Safari plays it as an audio
///   variant and hls.js builds a level with only an audio codec from it.
///   Wrapping it in an AUDIO group would need a STREAM-INF URI anyway
///   (the URI line is required), pointing at the same playlist, which some
///   players then load twice.
///
/// Without video there is no RESOLUTION or FRAME-RATE; CODECS never names
/// a track the publish lacks (pitfalls 22 and 40).
///
/// # Errors
///
/// [`HlsError::NoMedia`] without video or audio; [`HlsError::InvalidString`]
/// for an empty value, a `"` or a control character in a quoted-string, or
/// a non-relative URI; [`HlsError::InvalidValue`] for a zero BANDWIDTH,
/// RESOLUTION or CHANNELS, a FRAME-RATE that is not a positive finite
/// number, or a bandwidth sum that overflows.
pub fn write_multivariant(m: &Multivariant) -> Result<String, HlsError> {
    let mut out = String::with_capacity(512);
    out.push_str("#EXTM3U\n");
    if m.video.is_empty() {
        // Audio only: each rendition is a variant of its own.
        if m.audio.is_empty() {
            return Err(HlsError::NoMedia);
        }
        independent(&mut out, m);
        for audio in &m.audio {
            check_bandwidth(audio.bandwidth, audio.average_bandwidth)?;
            check_codec("audio CODECS", &audio.codecs)?;
            // The rendition's own attributes are not written, but they must
            // still be valid so a later switch to video+audio cannot fail.
            check_audio(audio)?;
            let mut attrs = Attrs::new(&mut out, "EXT-X-STREAM-INF");
            attrs.raw("BANDWIDTH", audio.bandwidth);
            if let Some(average) = audio.average_bandwidth {
                attrs.raw("AVERAGE-BANDWIDTH", average);
            }
            attrs.quoted_unchecked("CODECS", &audio.codecs).finish();
            uri_line(&mut out, &audio.uri)?;
        }
        return Ok(out);
    }
    if m.audio.is_empty() {
        independent(&mut out, m);
        for video in &m.video {
            check_bandwidth(video.bandwidth, video.average_bandwidth)?;
            check_codec("video CODECS", &video.codecs)?;
            let mut attrs = Attrs::new(&mut out, "EXT-X-STREAM-INF");
            attrs.raw("BANDWIDTH", video.bandwidth);
            if let Some(average) = video.average_bandwidth {
                attrs.raw("AVERAGE-BANDWIDTH", average);
            }
            attrs.quoted_unchecked("CODECS", &video.codecs);
            video_attrs(&mut attrs, video)?;
            attrs.finish();
            uri_line(&mut out, &video.uri)?;
        }
        return Ok(out);
    }
    line(
        &mut out,
        format_args!("#EXT-X-VERSION:{MULTIVARIANT_MEDIA_VERSION}"),
    );
    independent(&mut out, m);
    let mut audio_codecs: Vec<&str> = Vec::with_capacity(m.audio.len());
    for (i, audio) in m.audio.iter().enumerate() {
        check_bandwidth(audio.bandwidth, audio.average_bandwidth)?;
        check_codec("audio CODECS", &audio.codecs)?;
        // The first rendition is the default; players pick others by
        // LANGUAGE or NAME (rfc8216bis §4.4.6.1.1).
        write_audio_media(&mut out, audio, i == 0)?;
        if !audio_codecs.contains(&audio.codecs.as_str()) {
            audio_codecs.push(&audio.codecs);
        }
    }
    // A variant's BANDWIDTH covers the most demanding rendition it can be
    // played with (HLS-MV-01); its CODECS every codec of the group.
    let audio_peak = m.audio.iter().map(|a| a.bandwidth).max().unwrap_or(0);
    let audio_average = m
        .audio
        .iter()
        .map(|a| a.average_bandwidth)
        .try_fold(0, |max: u64, a| a.map(|a| max.max(a)));
    let audio_codecs = audio_codecs.join(",");
    let group = m.audio.first().map_or("audio", |a| a.group_id.as_str());
    for video in &m.video {
        let bandwidth = video
            .bandwidth
            .checked_add(audio_peak)
            .ok_or_else(|| HlsError::invalid_value("BANDWIDTH", "video + audio overflows u64"))?;
        let average = match (video.average_bandwidth, audio_average) {
            (Some(v), Some(a)) => Some(v.checked_add(a).ok_or_else(|| {
                HlsError::invalid_value("AVERAGE-BANDWIDTH", "video + audio overflows u64")
            })?),
            // A partial sum would understate the variant.
            _ => None,
        };
        check_bandwidth(video.bandwidth, video.average_bandwidth)?;
        check_codec("video CODECS", &video.codecs)?;
        let codecs = format!("{},{audio_codecs}", video.codecs);
        let mut attrs = Attrs::new(&mut out, "EXT-X-STREAM-INF");
        attrs.raw("BANDWIDTH", bandwidth);
        if let Some(average) = average {
            attrs.raw("AVERAGE-BANDWIDTH", average);
        }
        attrs.quoted_unchecked("CODECS", &codecs);
        video_attrs(&mut attrs, video)?;
        // Every rendition of one group, whatever the variant.
        attrs.quoted_unchecked("AUDIO", group).finish();
        uri_line(&mut out, &video.uri)?;
    }
    Ok(out)
}

fn independent(out: &mut String, m: &Multivariant) {
    if m.independent_segments {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
}

fn uri_line(out: &mut String, uri: &str) -> Result<(), HlsError> {
    check_uri("variant URI", uri)?;
    out.push_str(uri);
    out.push('\n');
    Ok(())
}

/// A single codec string: it is joined with `,` into CODECS, so it may not
/// contain one itself.
fn check_codec(what: &'static str, codec: &str) -> Result<(), HlsError> {
    check_quoted(what, codec)?;
    if codec.contains(',') || codec.chars().any(char::is_whitespace) {
        return Err(HlsError::InvalidString {
            what,
            value: codec.to_owned(),
            reason: "not a single RFC 6381 codec",
        });
    }
    Ok(())
}

/// BANDWIDTH must be a representative peak: zero means the caller has no
/// estimate, and players would rank the variant as free.
fn check_bandwidth(peak: u64, average: Option<u64>) -> Result<(), HlsError> {
    if peak == 0 {
        return Err(HlsError::invalid_value("BANDWIDTH", "0"));
    }
    if average == Some(0) {
        return Err(HlsError::invalid_value("AVERAGE-BANDWIDTH", "0"));
    }
    Ok(())
}

fn video_attrs(attrs: &mut Attrs<'_>, video: &VideoVariant) -> Result<(), HlsError> {
    if video.width == 0 || video.height == 0 {
        return Err(HlsError::invalid_value(
            "RESOLUTION",
            format!("{}x{}", video.width, video.height),
        ));
    }
    attrs.raw(
        "RESOLUTION",
        format_args!("{}x{}", video.width, video.height),
    );
    if let Some(rate) = video.frame_rate {
        // Upper bound only keeps the printed value sane; 1000 fps is far
        // above anything an encoder sends over RTMP.
        if !(rate.is_finite() && rate > 0.0 && rate <= 1000.0) {
            return Err(HlsError::invalid_value("FRAME-RATE", format!("{rate}")));
        }
        attrs.raw("FRAME-RATE", format_args!("{rate:.3}"));
    }
    if let Some(range) = video.video_range {
        attrs.raw("VIDEO-RANGE", range);
    }
    Ok(())
}

fn check_audio(audio: &AudioRendition) -> Result<(), HlsError> {
    check_quoted("GROUP-ID", &audio.group_id)?;
    check_quoted("NAME", &audio.name)?;
    if let Some(language) = &audio.language {
        check_language("LANGUAGE", language)?;
    }
    if audio.channels == 0 {
        return Err(HlsError::invalid_value("CHANNELS", "0"));
    }
    if audio.sample_rate == Some(0) {
        return Err(HlsError::invalid_value("SAMPLE-RATE", "0"));
    }
    Ok(())
}

fn write_audio_media(
    out: &mut String,
    audio: &AudioRendition,
    default: bool,
) -> Result<(), HlsError> {
    check_audio(audio)?;
    let mut attrs = Attrs::new(out, "EXT-X-MEDIA");
    attrs
        .raw("TYPE", "AUDIO")
        .quoted_unchecked("GROUP-ID", &audio.group_id)
        .quoted_unchecked("NAME", &audio.name);
    if let Some(language) = &audio.language {
        attrs.quoted_unchecked("LANGUAGE", language);
    }
    attrs
        .raw("DEFAULT", if default { "YES" } else { "NO" })
        .raw("AUTOSELECT", "YES")
        .quoted_unchecked("CHANNELS", &audio.channels.to_string());
    if let Some(rate) = audio.sample_rate {
        attrs.raw("SAMPLE-RATE", rate);
    }
    attrs.uri("URI", &audio.uri)?.finish();
    Ok(())
}
