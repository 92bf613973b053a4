//! The life of one stream instance, as a state machine with time as an
//! input: no clock is read and nothing sleeps here. The registry asks
//! [`Lifecycle::poll_timeout`] when to come back and calls
//! [`Lifecycle::handle_timeout`] then (the quinn-proto timer pattern), so
//! every transition is tested on a fake clock.
//!
//! ```text
//!                  publish (resume: same playlists, a discontinuity)
//!              ┌──────────────────────────────┐
//!              ▼                              │
//!   new ──▶  Live ──leave (any)──▶  Waiting (grace) ──timeout──▶  Ended ──timeout──▶  Gone
//!              │                                                  ▲  (final playlists    (404, memory
//!              ├──leave (graceful, with end_on_unpublish)─────────┤   and MPD served)     freed)
//!              └──shutdown (also from Waiting)────────────────────┘
//! ```
//!
//! A publish while `Ended` or `Gone` is refused here: the registry starts a
//! new instance of the key instead, which continues its numbering
//! (`StreamPackager::successor`). A graceful unpublish and a dropped
//! connection are treated alike (both wait for the publisher), because
//! encoders stop and start for settings changes and restarts as often as
//! they lose the network; `end_on_unpublish` ends at once on the former.
//!
//! Deadlines are set from the deadline that fired, not from when the timer
//! was serviced, so a late timer never stretches the grace or retention.

use std::time::{Duration, Instant};

/// How long each phase lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a stream whose publisher left waits for it to come back.
    pub grace: Duration,
    /// How long an ended stream's final playlists and segments stay served.
    pub retention: Duration,
    /// A graceful unpublish ends the stream at once.
    pub end_on_unpublish: bool,
}

/// Where an instance is. Each phase holds only what is valid in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A publisher feeds it; `generation` counts publishers (0 for the first).
    Live { generation: u64 },
    /// The publisher of `generation` left; a new one may resume until `until`.
    Waiting { generation: u64, until: Instant },
    /// Over: final playlists (ENDLIST) and MPD are served until `until`.
    Ended { until: Instant },
    /// Nothing is served any more.
    Gone,
}

impl Phase {
    /// The name `/api/streams` and the pages show.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Live { .. } => "live",
            Phase::Waiting { .. } => "reconnecting",
            Phase::Ended { .. } => "ended",
            Phase::Gone => "gone",
        }
    }

    /// Live or waiting for its publisher: it counts as a stream and is listed.
    pub fn is_active(&self) -> bool {
        matches!(self, Phase::Live { .. } | Phase::Waiting { .. })
    }
}

/// How a publisher left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// FCUnpublish / deleteStream / closeStream (RTMP-CMD-07).
    Graceful,
    /// The connection closed or failed without an unpublish.
    Abrupt,
}

/// What the host must act on after an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed (a stale or repeated input).
    Unchanged,
    /// The publisher left: keep everything as it is, reconnecting.
    Waiting,
    /// The stream ended: close the open segments, ENDLIST, MPD end of live.
    Ended,
    /// The retention passed: stop serving it and free it.
    Gone,
}

/// Why a publisher cannot take this instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("the stream already has a publisher")]
    AlreadyLive,
    #[error("the stream has ended; a new instance must start")]
    Ended,
}

#[derive(Clone, Debug)]
pub struct Lifecycle {
    policy: Policy,
    phase: Phase,
}

impl Lifecycle {
    /// A new instance, live with its first publisher (generation 0).
    pub fn new(policy: Policy) -> Self {
        Lifecycle {
            policy,
            phase: Phase::Live { generation: 0 },
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { until, .. } | Phase::Ended { until } => Some(until),
            Phase::Live { .. } | Phase::Gone => None,
        }
    }

    /// The clock reached `now`: the phase whose deadline passed moves on, at
    /// most one step per call (call again until `Unchanged`).
    pub fn handle_timeout(&mut self, now: Instant) -> Transition {
        match self.phase {
            Phase::Waiting { until, .. } if now >= until => {
                self.phase = Phase::Ended {
                    until: until + self.policy.retention,
                };
                Transition::Ended
            }
            Phase::Ended { until } if now >= until => {
                self.phase = Phase::Gone;
                Transition::Gone
            }
            _ => Transition::Unchanged,
        }
    }

    /// A publisher asks for this instance at `now`. Within the grace period
    /// it resumes it and gets the next generation; a grace period that ran
    /// out by `now` counts as run out even if its timer was not serviced yet.
    pub fn publish(&mut self, now: Instant) -> Result<u64, PublishError> {
        while self.handle_timeout(now) != Transition::Unchanged {}
        match self.phase {
            Phase::Live { .. } => Err(PublishError::AlreadyLive),
            Phase::Waiting { generation, .. } => {
                let generation = generation + 1;
                self.phase = Phase::Live { generation };
                Ok(generation)
            }
            Phase::Ended { .. } | Phase::Gone => Err(PublishError::Ended),
        }
    }

    /// The publisher of `generation` left at `now`. A publisher that was
    /// already replaced, or left twice, changes nothing.
    pub fn leave(&mut self, generation: u64, how: Departure, now: Instant) -> Transition {
        match self.phase {
            Phase::Live { generation: g } if g == generation => {
                if how == Departure::Graceful && self.policy.end_on_unpublish {
                    self.end(now)
                } else {
                    self.phase = Phase::Waiting {
                        generation,
                        until: now + self.policy.grace,
                    };
                    Transition::Waiting
                }
            }
            _ => Transition::Unchanged,
        }
    }

    /// The server is shutting down: a live or waiting stream ends now.
    pub fn shutdown(&mut self, now: Instant) -> Transition {
        match self.phase {
            Phase::Live { .. } | Phase::Waiting { .. } => self.end(now),
            Phase::Ended { .. } | Phase::Gone => Transition::Unchanged,
        }
    }

    fn end(&mut self, now: Instant) -> Transition {
        self.phase = Phase::Ended {
            until: now + self.policy.retention,
        };
        Transition::Ended
    }
}

#[cfg(test)]
mod tests;
