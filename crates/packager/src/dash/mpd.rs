//! A live MPD as a typed model, and its XML form.
//!
//! Written with `quick-xml`'s `Writer` rather than a serde model
//! (`dash-mpd-core` always emits six unused namespaces, nanosecond
//! `publishTime` and no XML declaration, `../shared/research/crate-fit.md`
//! §3): Weir controls element order (the XSD's), number and duration forms,
//! and which attributes appear. The tests parse every MPD back with
//! `dash-mpd-core`.

use std::io;
use std::time::{Duration, SystemTime};

use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use crate::hls::format_program_date_time;

pub const PROFILES: &str = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019";
pub const UTC_HTTP_ISO: &str = "urn:mpeg:dash:utc:http-iso:2014";
pub const UTC_HTTP_HEAD: &str = "urn:mpeg:dash:utc:http-head:2014";
pub const AUDIO_CHANNELS_SCHEME: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mpd {
    pub availability_start_time: SystemTime,
    pub publish_time: SystemTime,
    /// Present while live; its absence tells players the stream ended
    /// (DASH-MPD-12).
    pub minimum_update_period: Option<Duration>,
    pub time_shift_buffer_depth: Duration,
    pub max_segment_duration: Duration,
    pub min_buffer_time: Duration,
    pub suggested_presentation_delay: Duration,
    pub periods: Vec<Period>,
    pub utc_timing: Vec<UtcTiming>,
    /// LL-DASH latency targets for the player (DASH-LL-01).
    pub service_description: Option<ServiceDescription>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UtcTiming {
    pub scheme: &'static str,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub id: String,
    pub start: Duration,
    /// Set on the last Period once the stream ended.
    pub duration: Option<Duration>,
    pub adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    Video,
    Audio,
}

impl ContentType {
    fn name(self) -> &'static str {
        match self {
            ContentType::Video => "video",
            ContentType::Audio => "audio",
        }
    }

    fn mime(self) -> &'static str {
        match self {
            ContentType::Video => "video/mp4",
            ContentType::Audio => "audio/mp4",
        }
    }
}

/// One media type: the video tracks as Representations of one set, each
/// audio track a set of its own (Weir does not transcode: the tracks are
/// what the publisher sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdaptationSet {
    pub id: u32,
    pub content_type: ContentType,
    /// `@segmentAlignment`: every Representation's segments start and end at
    /// the same times — a fact the packager measured, never assumed.
    pub segment_alignment: bool,
    pub producer_reference_time: Option<ProducerReferenceTime>,
    pub representations: Vec<Representation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Representation {
    pub id: String,
    pub codecs: String,
    pub bandwidth: u64,
    pub media: MediaAttributes,
    pub template: SegmentTemplate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaAttributes {
    Video {
        width: u32,
        height: u32,
        /// `@frameRate`: numerator and denominator.
        frame_rate: Option<(u32, u32)>,
        sar: (u32, u32),
        /// High dynamic range: the H.273 colour code points, signalled as
        /// `urn:mpeg:mpegB:cicp` properties (DASH-IF IOP, HDR10 and HLG).
        hdr: Option<Cicp>,
    },
    Audio {
        sampling_rate: u32,
        channels: u8,
    },
}

/// H.273 code points of an HDR Representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cicp {
    pub colour_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
}

/// `urn:mpeg:mpegB:cicp` (ISO/IEC 23001-8) property schemes.
const CICP_PRIMARIES: &str = "urn:mpeg:mpegB:cicp:ColourPrimaries";
const CICP_TRANSFER: &str = "urn:mpeg:mpegB:cicp:TransferCharacteristics";
const CICP_MATRIX: &str = "urn:mpeg:mpegB:cicp:MatrixCoefficients";

/// `ServiceDescription`: the latency the service aims at and the playback
/// rates a player may use to hold it (DASH-LL-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceDescription {
    pub latency_target: Duration,
    pub latency_min: Duration,
    pub latency_max: Duration,
    /// Per mille: 960 = 0.96.
    pub playback_rate_min_permille: u32,
    pub playback_rate_max_permille: u32,
}

/// `ProducerReferenceTime`: the wall-clock time at which the media at
/// `presentation_time` (ticks of the Representation's timescale) was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerReferenceTime {
    pub wall_clock_time: SystemTime,
    pub presentation_time: u64,
    /// The clock it is on (the MPD's UTCTiming).
    pub utc_timing: UtcTiming,
}

/// `SegmentTemplate` with `$Number$` addressing over an explicit
/// `SegmentTimeline` (DASH-MPD-04): the same files HLS lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentTemplate {
    pub timescale: u32,
    pub presentation_time_offset: u64,
    pub initialization: String,
    /// Contains `$Number$`.
    pub media: String,
    pub start_number: u64,
    pub timeline: Vec<TimelineEntry>,
    /// LL-DASH: a segment can be requested this long before it ends, and
    /// is then sent chunk by chunk (`availabilityTimeComplete="false"`).
    pub availability_time_offset: Option<Duration>,
}

/// One `S`: a segment's first decode time and duration in ticks, exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub t: u64,
    pub d: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MpdError {
    #[error("a time before 1970 or after 9999 cannot be written")]
    TimeOutOfRange,
    #[error("writing XML: {0}")]
    Xml(#[from] io::Error),
}

/// `xs:duration` in seconds, at most millisecond precision: `PT2S`, `PT1.5S`.
pub fn xs_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("PT{s}S")
    } else {
        let f = format!("{frac:03}");
        format!("PT{s}.{}S", f.trim_end_matches('0'))
    }
}

fn date_time(t: SystemTime) -> Result<String, MpdError> {
    format_program_date_time(t).map_err(|_| MpdError::TimeOutOfRange)
}

/// The MPD as UTF-8 XML.
pub fn write_mpd(mpd: &Mpd) -> Result<String, MpdError> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let ast = date_time(mpd.availability_start_time)?;
    let publish = date_time(mpd.publish_time)?;
    let mut root = w
        .create_element("MPD")
        .with_attribute(("xmlns", "urn:mpeg:dash:schema:mpd:2011"))
        .with_attribute(("profiles", PROFILES))
        .with_attribute(("type", "dynamic"))
        .with_attribute(("availabilityStartTime", ast.as_str()))
        .with_attribute(("publishTime", publish.as_str()));
    let mup = mpd.minimum_update_period.map(xs_duration);
    if let Some(mup) = &mup {
        root = root.with_attribute(("minimumUpdatePeriod", mup.as_str()));
    }
    let tsbd = xs_duration(mpd.time_shift_buffer_depth);
    let msd = xs_duration(mpd.max_segment_duration);
    let mbt = xs_duration(mpd.min_buffer_time);
    let spd = xs_duration(mpd.suggested_presentation_delay);
    root.with_attribute(("timeShiftBufferDepth", tsbd.as_str()))
        .with_attribute(("maxSegmentDuration", msd.as_str()))
        .with_attribute(("minBufferTime", mbt.as_str()))
        .with_attribute(("suggestedPresentationDelay", spd.as_str()))
        .write_inner_content(|w| {
            if let Some(sd) = &mpd.service_description {
                write_service_description(w, sd)?;
            }
            for p in &mpd.periods {
                write_period(w, p)?;
            }
            for u in &mpd.utc_timing {
                w.create_element("UTCTiming")
                    .with_attribute(("schemeIdUri", u.scheme))
                    .with_attribute(("value", u.value.as_str()))
                    .write_empty()?;
            }
            Ok::<(), io::Error>(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes)
        .map_err(|e| MpdError::Xml(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Seconds with up to three decimals: `1.5`, `2`.
fn decimal_secs(d: Duration) -> String {
    let ms = d.as_millis();
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{}", format!("{frac:03}").trim_end_matches('0'))
    }
}

fn permille(v: u32) -> String {
    decimal_secs(Duration::from_millis(u64::from(v)))
}

fn write_service_description(w: &mut Writer<Vec<u8>>, sd: &ServiceDescription) -> io::Result<()> {
    let ms = |d: Duration| d.as_millis().to_string();
    let (target, min, max) = (
        ms(sd.latency_target),
        ms(sd.latency_min),
        ms(sd.latency_max),
    );
    let (rmin, rmax) = (
        permille(sd.playback_rate_min_permille),
        permille(sd.playback_rate_max_permille),
    );
    w.create_element("ServiceDescription")
        .with_attribute(("id", "0"))
        .write_inner_content(|w| {
            // Latency in milliseconds, measured against ProducerReferenceTime 0.
            w.create_element("Latency")
                .with_attribute(("referenceId", "0"))
                .with_attribute(("target", target.as_str()))
                .with_attribute(("min", min.as_str()))
                .with_attribute(("max", max.as_str()))
                .write_empty()?;
            w.create_element("PlaybackRate")
                .with_attribute(("min", rmin.as_str()))
                .with_attribute(("max", rmax.as_str()))
                .write_empty()?;
            Ok::<(), io::Error>(())
        })?;
    Ok(())
}

fn write_producer_reference_time(
    w: &mut Writer<Vec<u8>>,
    prt: &ProducerReferenceTime,
) -> io::Result<()> {
    let wall = format_program_date_time(prt.wall_clock_time)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "wallClockTime out of range"))?;
    let pt = prt.presentation_time.to_string();
    w.create_element("ProducerReferenceTime")
        .with_attribute(("id", "0"))
        .with_attribute(("type", "encoder"))
        .with_attribute(("wallClockTime", wall.as_str()))
        .with_attribute(("presentationTime", pt.as_str()))
        .write_inner_content(|w| {
            w.create_element("UTCTiming")
                .with_attribute(("schemeIdUri", prt.utc_timing.scheme))
                .with_attribute(("value", prt.utc_timing.value.as_str()))
                .write_empty()?;
            Ok::<(), io::Error>(())
        })?;
    Ok(())
}

fn write_period(w: &mut Writer<Vec<u8>>, p: &Period) -> io::Result<()> {
    let start = xs_duration(p.start);
    let duration = p.duration.map(xs_duration);
    let mut el = w
        .create_element("Period")
        .with_attribute(("id", p.id.as_str()))
        .with_attribute(("start", start.as_str()));
    if let Some(d) = &duration {
        el = el.with_attribute(("duration", d.as_str()));
    }
    el.write_inner_content(|w| {
        for a in &p.adaptation_sets {
            write_adaptation_set(w, a)?;
        }
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn write_adaptation_set(w: &mut Writer<Vec<u8>>, a: &AdaptationSet) -> io::Result<()> {
    let id = a.id.to_string();
    let mut set = w
        .create_element("AdaptationSet")
        .with_attribute(("id", id.as_str()))
        .with_attribute(("contentType", a.content_type.name()))
        .with_attribute(("mimeType", a.content_type.mime()))
        .with_attribute((
            "segmentAlignment",
            if a.segment_alignment { "true" } else { "false" },
        ))
        .with_attribute(("startWithSAP", "1"));
    if a.content_type == ContentType::Audio {
        // Weir knows no language for a track yet.
        set = set.with_attribute(("lang", "und"));
    }
    set.write_inner_content(|w| {
        if let Some(prt) = &a.producer_reference_time {
            write_producer_reference_time(w, prt)?;
        }
        for r in &a.representations {
            write_representation(w, r)?;
        }
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn write_representation(w: &mut Writer<Vec<u8>>, r: &Representation) -> io::Result<()> {
    let bandwidth = r.bandwidth.to_string();
    let mut el = w
        .create_element("Representation")
        .with_attribute(("id", r.id.as_str()))
        .with_attribute(("codecs", r.codecs.as_str()))
        .with_attribute(("bandwidth", bandwidth.as_str()));
    let channels;
    match &r.media {
        MediaAttributes::Video {
            width,
            height,
            frame_rate,
            sar,
            hdr: _,
        } => {
            let (wd, ht) = (width.to_string(), height.to_string());
            let sar = format!("{}:{}", sar.0, sar.1);
            el = el
                .with_attribute(("width", wd.as_str()))
                .with_attribute(("height", ht.as_str()));
            if let Some((n, d)) = frame_rate {
                let fr = if *d == 1 {
                    n.to_string()
                } else {
                    format!("{n}/{d}")
                };
                el = el.with_attribute(("frameRate", fr.as_str()));
            }
            el = el.with_attribute(("sar", sar.as_str()));
            channels = None;
        }
        MediaAttributes::Audio {
            sampling_rate,
            channels: c,
        } => {
            let sr = sampling_rate.to_string();
            el = el.with_attribute(("audioSamplingRate", sr.as_str()));
            channels = Some(c.to_string());
        }
    }
    el.write_inner_content(|w| {
        if let Some(c) = &channels {
            w.create_element("AudioChannelConfiguration")
                .with_attribute(("schemeIdUri", AUDIO_CHANNELS_SCHEME))
                .with_attribute(("value", c.as_str()))
                .write_empty()?;
        }
        if let MediaAttributes::Video { hdr: Some(c), .. } = &r.media {
            // PQ cannot be shown by a player that ignores it: Essential.
            // HLG degrades to SDR on such a player: Supplemental.
            let transfer = if c.transfer_characteristics == 16 {
                "EssentialProperty"
            } else {
                "SupplementalProperty"
            };
            for (element, scheme, value) in [
                ("SupplementalProperty", CICP_PRIMARIES, c.colour_primaries),
                (transfer, CICP_TRANSFER, c.transfer_characteristics),
                ("SupplementalProperty", CICP_MATRIX, c.matrix_coefficients),
            ] {
                let value = value.to_string();
                w.create_element(element)
                    .with_attribute(("schemeIdUri", scheme))
                    .with_attribute(("value", value.as_str()))
                    .write_empty()?;
            }
        }
        write_template(w, &r.template)
    })?;
    Ok(())
}

fn write_template(w: &mut Writer<Vec<u8>>, t: &SegmentTemplate) -> io::Result<()> {
    let timescale = t.timescale.to_string();
    let pto = t.presentation_time_offset.to_string();
    let start_number = t.start_number.to_string();
    let ato = t.availability_time_offset.map(decimal_secs);
    let mut el = w
        .create_element("SegmentTemplate")
        .with_attribute(("timescale", timescale.as_str()))
        .with_attribute(("presentationTimeOffset", pto.as_str()))
        .with_attribute(("initialization", t.initialization.as_str()))
        .with_attribute(("media", t.media.as_str()))
        .with_attribute(("startNumber", start_number.as_str()));
    if let Some(ato) = &ato {
        el = el
            .with_attribute(("availabilityTimeOffset", ato.as_str()))
            .with_attribute(("availabilityTimeComplete", "false"));
    }
    el.write_inner_content(|w| {
        w.create_element("SegmentTimeline")
            .write_inner_content(|w| {
                for s in &t.timeline {
                    let (st, sd) = (s.t.to_string(), s.d.to_string());
                    w.create_element("S")
                        .with_attribute(("t", st.as_str()))
                        .with_attribute(("d", sd.as_str()))
                        .write_empty()?;
                }
                Ok::<(), io::Error>(())
            })?;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn representation(hdr: Option<Cicp>) -> String {
        let r = Representation {
            id: "video".into(),
            codecs: "hvc1.2.4.L93.B0".into(),
            bandwidth: 1,
            media: MediaAttributes::Video {
                width: 320,
                height: 240,
                frame_rate: None,
                sar: (1, 1),
                hdr,
            },
            template: SegmentTemplate {
                timescale: 90_000,
                presentation_time_offset: 0,
                initialization: "video/x/init-v1.mp4".into(),
                media: "video/x/seg-$Number$.m4s".into(),
                start_number: 0,
                timeline: Vec::new(),
                availability_time_offset: None,
            },
        };
        let mut w = Writer::new(Vec::new());
        write_representation(&mut w, &r).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    /// Issue 14 §3: HDR10 (PQ) needs a player that knows it (Essential);
    /// HLG plays as SDR elsewhere (Supplemental); SDR says nothing.
    #[test]
    fn hdr_is_signalled_with_cicp_properties() {
        let pq = representation(Some(Cicp {
            colour_primaries: 9,
            transfer_characteristics: 16,
            matrix_coefficients: 9,
        }));
        assert!(pq.contains(r#"<SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:ColourPrimaries" value="9"/><EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"/><SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:MatrixCoefficients" value="9"/><SegmentTemplate"#), "{pq}");
        let hlg = representation(Some(Cicp {
            colour_primaries: 9,
            transfer_characteristics: 18,
            matrix_coefficients: 9,
        }));
        assert!(hlg.contains(r#"<SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="18"/>"#), "{hlg}");
        assert!(!representation(None).contains("cicp"));
    }

    #[test]
    fn durations_are_xs_duration_seconds() {
        assert_eq!(xs_duration(Duration::ZERO), "PT0S");
        assert_eq!(xs_duration(Duration::from_millis(2000)), "PT2S");
        assert_eq!(xs_duration(Duration::from_millis(1500)), "PT1.5S");
        assert_eq!(xs_duration(Duration::from_millis(12_034)), "PT12.034S");
        assert_eq!(xs_duration(Duration::from_micros(1_999_999)), "PT1.999S");
        assert_eq!(xs_duration(Duration::from_secs(7200)), "PT7200S");
    }

    #[test]
    fn decimal_seconds() {
        assert_eq!(decimal_secs(Duration::from_millis(1500)), "1.5");
        assert_eq!(decimal_secs(Duration::from_millis(2000)), "2");
        assert_eq!(decimal_secs(Duration::from_millis(1450)), "1.45");
        assert_eq!(permille(960), "0.96");
    }
}
