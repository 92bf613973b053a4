//! The Representations of a parsed MPD, each with its SegmentTimeline
//! expanded: what the DASH end-to-end tests check MPDs against.

use dash_mpd_core::MPD;

/// One Representation of one Period, with its expanded timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub period_id: String,
    /// Period@start in seconds.
    pub period_start: f64,
    pub period_duration: Option<f64>,
    /// AdaptationSet@contentType, else the mimeType's type.
    pub kind: String,
    pub rep_id: String,
    pub bandwidth: Option<u64>,
    pub timescale: u64,
    pub pto: u64,
    pub start_number: u64,
    pub init: String,
    pub media: String,
    /// (S@t, S@d) with @r expanded.
    pub segs: Vec<(u64, u64)>,
}

impl Track {
    pub fn number(&self, i: usize) -> u64 {
        self.start_number + i as u64
    }
    pub fn numbers(&self) -> Vec<u64> {
        (0..self.segs.len()).map(|i| self.number(i)).collect()
    }
    pub fn last_number(&self) -> Option<u64> {
        self.segs.len().checked_sub(1).map(|i| self.number(i))
    }
    /// End of the last S relative to the Period start, in seconds.
    pub fn end_secs(&self) -> f64 {
        self.segs
            .last()
            .map(|&(t, d)| (t + d) as f64 - self.pto as f64)
            .unwrap_or(0.0)
            / self.timescale as f64
    }
    pub fn sum_secs(&self) -> f64 {
        self.segs.iter().map(|s| s.1).sum::<u64>() as f64 / self.timescale as f64
    }
    /// Availability start of segment `i` (its end on the wall clock), ms.
    pub fn avail_ms(&self, i: usize, ast_ms: i64) -> f64 {
        let (t, d) = self.segs[i];
        ast_ms as f64
            + self.period_start * 1000.0
            + ((t + d) as f64 - self.pto as f64) * 1000.0 / self.timescale as f64
    }
    /// A SegmentTemplate URL with its identifiers filled in.
    pub fn fill(&self, template: &str, number: u64, time: u64) -> String {
        template
            .replace("$RepresentationID$", &self.rep_id)
            .replace("$Number$", &number.to_string())
            .replace("$Time$", &time.to_string())
            .replace(
                "$Bandwidth$",
                &self.bandwidth.map(|b| b.to_string()).unwrap_or_default(),
            )
    }
    pub fn media_path(&self, key: &str, number: u64) -> String {
        format!("/live/{key}/{}", self.fill(&self.media, number, 0))
    }
    pub fn init_path(&self, key: &str) -> String {
        format!("/live/{key}/{}", self.fill(&self.init, 0, 0))
    }
}

/// Every Representation of every Period, in document order.
pub fn tracks(mpd: &MPD) -> Vec<Track> {
    let mut out = Vec::new();
    for p in &mpd.periods {
        for a in &p.adaptations {
            let kind = a
                .contentType
                .clone()
                .or_else(|| {
                    a.mimeType
                        .as_deref()
                        .and_then(|m| m.split('/').next())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "?".into());
            for r in &a.representations {
                let Some(st) = r.SegmentTemplate.as_ref().or(a.SegmentTemplate.as_ref()) else {
                    continue;
                };
                let mut segs = Vec::new();
                let mut next = 0u64;
                if let Some(tl) = &st.SegmentTimeline {
                    for s in &tl.segments {
                        let mut t = s.t.unwrap_or(next);
                        for _ in 0..=s.r.unwrap_or(0).max(0) {
                            segs.push((t, s.d));
                            t += s.d;
                        }
                        next = t;
                    }
                }
                out.push(Track {
                    period_id: p.id.clone().unwrap_or_default(),
                    period_start: p.start.map(|d| d.as_secs_f64()).unwrap_or(0.0),
                    period_duration: p.duration.map(|d| d.as_secs_f64()),
                    kind: kind.clone(),
                    rep_id: r.id.clone().unwrap_or_default(),
                    bandwidth: r.bandwidth,
                    timescale: st.timescale.unwrap_or(1),
                    pto: st.presentationTimeOffset.unwrap_or(0),
                    start_number: st.startNumber.unwrap_or(1),
                    init: st.initialization.clone().unwrap_or_default(),
                    media: st.media.clone().unwrap_or_default(),
                    segs,
                });
            }
        }
    }
    out
}
