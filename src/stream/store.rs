//! What HTTP serves for one stream: init and media segments as refcounted
//! `Bytes`, and playlist snapshots swapped atomically (HLS-LIVE-05).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
pub use weir_packager::manifests::Position;
use weir_packager::names::FileName;

/// One stored file. Cloning shares the bytes, so a download in flight keeps
/// its segment alive after the store drops it (HTTP-05).
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

pub struct Store {
    files: RwLock<HashMap<FileName, Entry>>,
    playlists: RwLock<HashMap<FileName, Playlist>>,
    /// Bumped on every new file or playlist: blocked requests (LL-HLS
    /// `_HLS_msn`, preload-hinted parts) all wait on this one notification.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            files: RwLock::default(),
            playlists: RwLock::default(),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// A playlist snapshot, its gzip form (compressed once, not per request) and
/// its entity tag.
#[derive(Clone, Debug)]
pub struct Playlist {
    pub text: Bytes,
    pub gzip: Option<Bytes>,
    pub etag: String,
    /// Live media playlists with parts: what they list.
    pub position: Option<Position>,
}

impl Playlist {
    fn new(text: String) -> Self {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let etag = format!("\"{:016x}\"", h.finish());
        let gzip = gzip(text.as_bytes());
        Playlist {
            text: Bytes::from(text),
            gzip,
            etag,
            position: None,
        }
    }

    /// The same manifest with other text (a viewer's tokenized copy): its
    /// own ETag and gzip form.
    pub fn with_text(&self, text: String) -> Self {
        Playlist {
            position: self.position,
            ..Playlist::new(text)
        }
    }
}

fn gzip(text: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text).ok()?;
    enc.finish().ok().map(Bytes::from)
}

struct Entry {
    file: StoredFile,
    /// When set, the file goes after this instant (removed from the window
    /// but still fetchable for its availability duration, HLS-LIVE-04).
    expires: Option<Instant>,
}

impl Store {
    pub fn put(&self, name: FileName, bytes: Bytes) {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        files.insert(
            name,
            Entry {
                file: StoredFile {
                    bytes,
                    content_type: name.content_type(),
                },
                expires: None,
            },
        );
        drop(files);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that wakes on every new file or playlist.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Keep `name` for `keep` more, then drop it; also drops anything already expired.
    pub fn retire(&self, name: &FileName, now: Instant, keep: Duration) {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = files.get_mut(name) {
            e.expires = Some(now + keep);
        }
        files.retain(|_, e| e.expires.is_none_or(|t| t > now));
    }

    pub fn get(&self, name: &FileName, now: Instant) -> Option<StoredFile> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        files
            .get(name)
            .filter(|e| e.expires.is_none_or(|t| t > now))
            .map(|e| e.file.clone())
    }

    pub fn set_playlist(&self, name: FileName, text: String) {
        self.set_media_playlist(name, text, None);
    }

    /// A playlist and, for a low-latency media playlist, what it lists.
    pub fn set_media_playlist(&self, name: FileName, text: String, position: Option<Position>) {
        let playlist = Playlist {
            position,
            ..Playlist::new(text)
        };
        let mut p = self.playlists.write().unwrap_or_else(|e| e.into_inner());
        p.insert(name, playlist);
        drop(p);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Drops a playlist (a delta update that no longer applies).
    pub fn remove_playlist(&self, name: &FileName) {
        let mut p = self.playlists.write().unwrap_or_else(|e| e.into_inner());
        p.remove(name);
    }

    pub fn playlist(&self, name: &FileName) -> Option<Playlist> {
        let p = self.playlists.read().unwrap_or_else(|e| e.into_inner());
        p.get(name).cloned()
    }

    #[cfg(test)]
    pub fn file_count(&self) -> usize {
        self.files.read().map(|f| f.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use weir_packager::names::{InstanceId, TrackId};

    fn seg(number: u64) -> FileName {
        FileName::Segment {
            track: TrackId::VIDEO,
            instance: InstanceId::from_millis(1),
            number,
        }
    }

    #[test]
    fn retired_files_stay_fetchable_until_they_expire_hls_live_04() {
        let o = Store::default();
        let t0 = Instant::now();
        o.put(seg(0), Bytes::from_static(b"abc"));
        let in_flight = o.get(&seg(0), t0).unwrap();
        assert_eq!(in_flight.content_type, "video/mp4");
        o.retire(&seg(0), t0, Duration::from_secs(10));
        assert!(o.get(&seg(0), t0 + Duration::from_secs(9)).is_some());
        assert!(o.get(&seg(0), t0 + Duration::from_secs(10)).is_none());
        o.retire(&seg(1), t0 + Duration::from_secs(11), Duration::ZERO);
        assert_eq!(o.file_count(), 0);
        // A download that started before expiry still holds its bytes.
        assert_eq!(&in_flight.bytes[..], b"abc");
    }

    #[test]
    fn playlists_are_replaced_whole() {
        let o = Store::default();
        let name = FileName::MediaPlaylist(TrackId::VIDEO);
        o.set_playlist(name, "#EXTM3U\n1".into());
        let old = o.playlist(&name).unwrap();
        o.set_playlist(name, "#EXTM3U\n2".into());
        let new = o.playlist(&name).unwrap();
        assert_eq!(&old.text[..], b"#EXTM3U\n1");
        assert_eq!(&new.text[..], b"#EXTM3U\n2");
        assert_ne!(old.etag, new.etag);
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&new.gzip.unwrap()[..]),
            &mut plain,
        )
        .unwrap();
        assert_eq!(plain, b"#EXTM3U\n2");
    }
}
