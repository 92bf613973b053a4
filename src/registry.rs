//! Streams by app/key: one publisher per key, resumable within a grace
//! period, and a new instance (new file names, numbering continued) when a
//! key is published again after its stream ended.
//!
//! The registry owns no timer of its own per stream: [`Registry::poll_timeout`]
//! says when the earliest lifecycle deadline falls and
//! [`Registry::handle_timeout`] moves every stream whose deadline passed;
//! [`Registry::run_timers`] is the one task that drives both, woken early
//! whenever a deadline is set. Everything else is called by the RTMP
//! sessions (`claim`, `release`), HTTP (`instances`, `list`) and shutdown
//! (`end_all`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tracing::info;
use weir_packager::names::InstanceId;
use weir_packager::stream::InstanceStart;

use crate::stream::lifecycle::{Departure, Phase, PublishError, Transition};
use crate::stream::{Settings, Stats, Stream};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimError {
    #[error("{app}/{key} is already being published")]
    AlreadyLive { app: String, key: String },
    #[error("the server already carries its maximum of {0} streams")]
    TooManyStreams(usize),
}

type StreamKey = (String, String);

/// The instances of one key that still serve something: the newest, and
/// older ones that ended but whose files are still within their retention.
struct Instances {
    current: Arc<Stream>,
    older: Vec<Arc<Stream>>,
}

/// Keys remembered after their last instance is gone, so that a key
/// published again days later still continues its numbering. Bounded: the
/// oldest are forgotten first (they then start at 0 again, under new names).
const MAX_REMEMBERED_KEYS: usize = 10_000;

#[derive(Default)]
struct Remembered {
    starts: HashMap<StreamKey, InstanceStart>,
    order: VecDeque<StreamKey>,
}

impl Remembered {
    fn insert(&mut self, key: StreamKey, next: InstanceStart) {
        if self.starts.insert(key.clone(), next).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MAX_REMEMBERED_KEYS {
            if let Some(old) = self.order.pop_front() {
                self.starts.remove(&old);
            }
        }
    }
}

pub struct Registry {
    streams: Mutex<HashMap<StreamKey, Instances>>,
    remembered: Mutex<Remembered>,
    settings: Settings,
    /// Wakes [`run_timers`](Self::run_timers) when a deadline was set, and
    /// [`end_all`](Self::end_all) when a publisher left.
    timers_changed: tokio::sync::Notify,
    publisher_left: tokio::sync::Notify,
    /// What the streams dropped so far had counted: with the streams still
    /// held, the server's totals since it started.
    retired: Mutex<Stats>,
}

/// The streams' counters, read by the metrics exporter at scrape time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Streams with a publisher now.
    pub live: usize,
    /// Everything every stream counted since the server started.
    pub streams: Stats,
}

impl Registry {
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(Registry {
            streams: Mutex::new(HashMap::new()),
            remembered: Mutex::new(Remembered::default()),
            settings,
            timers_changed: tokio::sync::Notify::new(),
            publisher_left: tokio::sync::Notify::new(),
            retired: Mutex::new(Stats::default()),
        })
    }

    /// Streams live now, and what all streams counted since the start.
    pub fn totals(&self) -> Totals {
        let map = self.map();
        // Under the map lock: a stream is either still held or retired.
        let mut streams = *self.retired.lock().unwrap_or_else(|e| e.into_inner());
        let mut live = 0;
        for i in map.values() {
            if matches!(i.current.phase(), Phase::Live { .. }) {
                live += 1;
            }
            for s in std::iter::once(&i.current).chain(&i.older) {
                streams += s.stats();
            }
        }
        Totals { live, streams }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<StreamKey, Instances>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claim `app/key` for a publisher at `now`. A live stream refuses a
    /// second publisher (RTMP-CMD-06); one waiting for its publisher is
    /// resumed with its playlists continuing (HLS-LIVE-08); otherwise a new
    /// instance starts, numbered after the last one served for the key.
    pub fn claim(
        &self,
        app: &str,
        key: &str,
        publisher: SocketAddr,
        max_streams: usize,
        now: Instant,
    ) -> Result<(Arc<Stream>, u64), ClaimError> {
        let mut map = self.map();
        let id = (app.to_owned(), key.to_owned());
        if let Some(existing) = map.get(&id) {
            match existing.current.resume(publisher, now) {
                Ok(generation) => {
                    info!(app, key, "publisher resumed the stream");
                    return Ok((existing.current.clone(), generation));
                }
                Err(PublishError::AlreadyLive) => {
                    return Err(ClaimError::AlreadyLive {
                        app: app.to_owned(),
                        key: key.to_owned(),
                    })
                }
                Err(PublishError::Ended) => {}
            }
        }
        let active = map
            .values()
            .filter(|i| i.current.phase().is_active())
            .count();
        if active >= max_streams {
            return Err(ClaimError::TooManyStreams(max_streams));
        }
        let previous = map.remove(&id);
        let start = self.next_start(&id, previous.as_ref().map(|p| &p.current));
        let stream = Arc::new(Stream::new(
            app.to_owned(),
            key.to_owned(),
            publisher,
            &self.settings,
            start,
        ));
        let older = match previous {
            Some(p) => {
                let mut older = p.older;
                older.push(p.current);
                older
            }
            None => Vec::new(),
        };
        map.insert(
            id,
            Instances {
                current: stream.clone(),
                older,
            },
        );
        info!(app, key, instance = %start.instance, media_sequence = start.media_sequence, "stream live");
        Ok((stream, 0))
    }

    /// The start of a new instance of `id`: after `previous` (or what is
    /// remembered of the key), with an id later than any it had.
    fn next_start(&self, id: &StreamKey, previous: Option<&Arc<Stream>>) -> InstanceStart {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut instance = InstanceId::from_millis(now_ms);
        let remembered = self.remembered().starts.get(id).copied();
        let last = previous
            .map(|p| p.instance)
            .or(remembered.map(|r| r.instance));
        if let Some(last) = last.filter(|l| *l >= instance) {
            instance = last.next();
        }
        match (previous, remembered) {
            (Some(p), _) => p.successor(instance),
            (None, Some(r)) => InstanceStart { instance, ..r },
            (None, None) => InstanceStart::new(instance),
        }
    }

    /// The publisher of `stream` (generation `generation`) left at `now`.
    /// Graceful or not, the stream waits for it for the grace period
    /// (unless `end_on_unpublish` ends it at once on a graceful unpublish).
    pub fn release(&self, stream: &Arc<Stream>, generation: u64, how: Departure, now: Instant) {
        let t = stream.publisher_left(generation, how, now);
        match t {
            Transition::Unchanged => return,
            Transition::Waiting => {
                info!(app = %stream.app, key = %stream.key, ?how, "publisher left; waiting for it")
            }
            Transition::Ended | Transition::Gone => {
                info!(app = %stream.app, key = %stream.key, ?how, "publisher left; stream ended")
            }
        }
        self.timers_changed.notify_one();
        self.publisher_left.notify_waiters();
    }

    /// The earliest lifecycle deadline of any stream.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.map()
            .values()
            .flat_map(|i| std::iter::once(&i.current).chain(&i.older))
            .filter_map(|s| s.poll_timeout())
            .min()
    }

    /// The clock reached `now`: streams whose grace period passed end
    /// (ENDLIST, DASH end of live); those whose retention passed are
    /// dropped, and the numbering of their key is remembered.
    pub fn handle_timeout(&self, now: Instant) {
        let mut map = self.map();
        let mut gone_keys = Vec::new();
        let mut retired = Stats::default();
        for (id, instances) in map.iter_mut() {
            for s in std::iter::once(&instances.current).chain(&instances.older) {
                loop {
                    match s.handle_timeout(now) {
                        Transition::Unchanged => break,
                        Transition::Ended => {
                            info!(app = %s.app, key = %s.key, instance = %s.instance, "stream ended")
                        }
                        Transition::Gone | Transition::Waiting => {}
                    }
                }
            }
            instances.older.retain(|s| {
                let gone = s.phase() == Phase::Gone;
                if gone {
                    retired += s.stats();
                }
                !gone
            });
            if instances.current.phase() == Phase::Gone {
                // The instance id is far enough in the past: the next one
                // gets a later id from the clock or from `next_start`.
                let next = instances.current.successor(instances.current.instance);
                self.remembered().insert(id.clone(), next);
                if instances.older.is_empty() {
                    gone_keys.push(id.clone());
                }
            }
        }
        for id in gone_keys {
            if let Some(i) = map.remove(&id) {
                retired += i.current.stats();
            }
            info!(app = %id.0, key = %id.1, "stream files released");
        }
        *self.retired.lock().unwrap_or_else(|e| e.into_inner()) += retired;
    }

    /// Drives every stream's timers until the process ends: sleeps until the
    /// earliest deadline, or until a new one is set.
    pub async fn run_timers(self: Arc<Self>) {
        loop {
            let woken = self.timers_changed.notified();
            match self.poll_timeout() {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = woken => {}
                    }
                }
                None => woken.await,
            }
            self.handle_timeout(Instant::now());
        }
    }

    /// Shutdown: once every publisher has left (they were asked to, ERTMP-08),
    /// or `patience` passed, end every stream for good (ENDLIST, DASH end of
    /// live).
    pub async fn end_all(&self, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = self.publisher_left.notified();
            let live = self
                .map()
                .values()
                .any(|i| matches!(i.current.phase(), Phase::Live { .. }));
            if !live {
                break;
            }
            if tokio::time::timeout_at(deadline, left).await.is_err() {
                break;
            }
        }
        let now = Instant::now();
        let streams: Vec<Arc<Stream>> = self.map().values().map(|i| i.current.clone()).collect();
        for s in streams {
            s.shutdown(now);
        }
        self.timers_changed.notify_one();
    }

    /// The instances of `app/key` whose files HTTP may serve, newest first.
    pub fn instances(&self, app: &str, key: &str) -> Vec<Arc<Stream>> {
        let id = (app.to_owned(), key.to_owned());
        match self.map().get(&id) {
            Some(i) => std::iter::once(&i.current)
                .chain(i.older.iter().rev())
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// The newest instance of every key that still serves its files: live,
    /// waiting for its publisher, or ended within its retention
    /// (`/api/streams`, `/`).
    pub fn list(&self) -> Vec<Arc<Stream>> {
        let mut v: Vec<Arc<Stream>> = self
            .map()
            .values()
            .filter(|i| i.current.phase() != Phase::Gone)
            .map(|i| i.current.clone())
            .collect();
        v.sort_by(|a, b| (&a.app, &a.key).cmp(&(&b.app, &b.key)));
        v
    }
}

#[cfg(test)]
mod tests;
