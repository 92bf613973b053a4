//! Live streams by app/key: one publisher per key, resumable within a grace period.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::info;
use weir_flv::timeline::TimelineConfig;
use weir_flv::Demuxer;

use weir_packager::stream::PackagerConfig;

use crate::metrics::Metrics;
use crate::stream::{Status, Stream};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimError {
    #[error("{app}/{key} is already being published")]
    AlreadyLive { app: String, key: String },
    #[error("the server already carries its maximum of {0} streams")]
    TooManyStreams(usize),
}

pub struct Registry {
    streams: Mutex<HashMap<(String, String), Arc<Stream>>>,
    /// Streams that ended, kept so their last playlists and segments stay
    /// fetchable for `availability` (HLS-LIVE-09), then freed.
    finished: Mutex<HashMap<(String, String), Arc<Stream>>>,
    grace: Duration,
    availability: Duration,
    timeline: TimelineConfig,
    packager: PackagerConfig,
    /// Prometheus metrics of the whole server (`GET /metrics`).
    metrics: Arc<Metrics>,
}

impl Registry {
    /// `availability`: how long an ended stream's files stay fetchable after
    /// its grace period (HLS-LIVE-09, DASH-MPD-12).
    pub fn new(
        grace: Duration,
        availability: Duration,
        timeline: TimelineConfig,
        packager: PackagerConfig,
    ) -> Arc<Self> {
        Arc::new(Registry {
            streams: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
            grace,
            availability,
            timeline,
            packager,
            metrics: Arc::new(Metrics::new()),
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Stream>>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claim `app/key` for a publisher. A live stream refuses a second
    /// publisher (RTMP-CMD-06); an ended one within its grace period is resumed
    /// with its timeline continuing (HLS-LIVE-08).
    pub fn claim(
        &self,
        app: &str,
        key: &str,
        publisher: SocketAddr,
        max_streams: usize,
    ) -> Result<(Arc<Stream>, u64), ClaimError> {
        let mut map = self.map();
        let id = (app.to_owned(), key.to_owned());
        let resumable = map.get(&id).is_some_and(|s| !s.is_finished());
        if !resumable && map.len() >= max_streams {
            return Err(ClaimError::TooManyStreams(max_streams));
        }
        if let Some(existing) = map.get(&id).filter(|s| !s.is_finished()) {
            if existing.status() == Status::Live {
                return Err(ClaimError::AlreadyLive {
                    app: app.to_owned(),
                    key: key.to_owned(),
                });
            }
            let generation = existing.resume(publisher);
            info!(
                app,
                key, "publisher resumed the stream within the grace period"
            );
            return Ok((existing.clone(), generation));
        }
        let stream = Arc::new(Stream::new(
            app.to_owned(),
            key.to_owned(),
            publisher,
            Demuxer::new(self.timeline.clone()),
            self.packager.clone(),
            self.metrics.clone(),
        ));
        map.insert(id, stream.clone());
        stream.started();
        info!(app, key, "stream live");
        Ok((stream, 0))
    }

    /// The publisher of `stream` (generation `generation`) left. A graceful
    /// unpublish ends the stream at once (ENDLIST, checklist case 17); a
    /// dropped connection leaves the grace period for a reconnect to resume it
    /// (HLS-LIVE-08). Either way it stays listed as ended until the grace
    /// period is over.
    pub fn release(self: &Arc<Self>, stream: &Arc<Stream>, generation: u64, graceful: bool) {
        if stream.generation() != generation || stream.status() != Status::Live {
            return;
        }
        stream.publisher_left(Instant::now());
        if graceful {
            stream.finish();
        }
        let registry = self.clone();
        let stream = stream.clone();
        let grace = self.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            registry.expire(&stream, generation);
        });
    }

    fn expire(self: &Arc<Self>, stream: &Arc<Stream>, generation: u64) {
        let mut map = self.map();
        if stream.generation() == generation && stream.status() == Status::Ended {
            let id = (stream.app.clone(), stream.key.clone());
            if map.get(&id).is_some_and(|s| Arc::ptr_eq(s, stream)) {
                map.remove(&id);
                stream.finish();
                info!(app = %stream.app, key = %stream.key, "stream ended");
                self.finished_map().insert(id.clone(), stream.clone());
                let registry = self.clone();
                let stream = stream.clone();
                let keep = self.availability;
                tokio::spawn(async move {
                    tokio::time::sleep(keep).await;
                    let mut f = registry.finished_map();
                    if f.get(&id).is_some_and(|s| Arc::ptr_eq(s, &stream)) {
                        f.remove(&id);
                    }
                });
            }
        }
    }

    /// Shutdown: once every publisher has left (they were asked to), end
    /// every stream for good (ENDLIST, DASH end of live).
    pub fn end_all(self: &Arc<Self>) -> impl std::future::Future<Output = ()> {
        let registry = self.clone();
        async move {
            for _ in 0..250 {
                if registry.map().values().all(|s| s.status() != Status::Live) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let streams: Vec<Arc<Stream>> = registry.map().values().cloned().collect();
            for s in streams {
                s.finish();
            }
        }
    }

    fn finished_map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Stream>>> {
        self.finished.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream whose files HTTP serves under `app/key`: the listed one, or
    /// one that ended recently.
    pub fn lookup(&self, app: &str, key: &str) -> Option<Arc<Stream>> {
        let id = (app.to_owned(), key.to_owned());
        if let Some(s) = self.map().get(&id) {
            return Some(s.clone());
        }
        self.finished_map().get(&id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Stream>> {
        let mut v: Vec<Arc<Stream>> = self.map().values().cloned().collect();
        v.sort_by(|a, b| (&a.app, &a.key).cmp(&(&b.app, &b.key)));
        v
    }
}
