//! Every phase × every input, on a fake clock (`t0 + offsets`): no test
//! here sleeps or reads the clock beyond taking one `Instant` as origin.

use super::*;

const GRACE: Duration = Duration::from_secs(10);
const RETENTION: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);

fn policy(end_on_unpublish: bool) -> Policy {
    Policy {
        grace: GRACE,
        retention: RETENTION,
        end_on_unpublish,
    }
}

/// A lifecycle driven into `phase` at `t0`, and `t0`.
fn in_phase(which: &str) -> (Lifecycle, Instant) {
    let t0 = Instant::now();
    let mut l = Lifecycle::new(policy(false));
    match which {
        "live" => {}
        "waiting" => assert_eq!(l.leave(0, Departure::Abrupt, t0), Transition::Waiting),
        "ended" => assert_eq!(l.shutdown(t0), Transition::Ended),
        "gone" => {
            assert_eq!(l.shutdown(t0), Transition::Ended);
            assert_eq!(l.handle_timeout(t0 + RETENTION), Transition::Gone);
        }
        other => panic!("no phase {other}"),
    }
    (l, t0)
}

#[test]
fn a_new_instance_is_live_with_its_first_publisher() {
    let l = Lifecycle::new(policy(false));
    assert_eq!(l.phase(), Phase::Live { generation: 0 });
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(l.phase().name(), "live");
    assert!(l.phase().is_active());
}

// --- Live ---------------------------------------------------------------

#[test]
fn live_publish_is_refused_rtmp_cmd_06() {
    let (mut l, t0) = in_phase("live");
    assert_eq!(l.publish(t0), Err(PublishError::AlreadyLive));
    assert_eq!(l.phase(), Phase::Live { generation: 0 });
}

/// Issue 12 §3: a graceful unpublish and a dropped connection are treated
/// alike: both wait for the publisher, no ENDLIST.
#[test]
fn live_leave_graceful_or_abrupt_waits_for_the_publisher() {
    for how in [Departure::Graceful, Departure::Abrupt] {
        let (mut l, t0) = in_phase("live");
        assert_eq!(l.leave(0, how, t0), Transition::Waiting, "{how:?}");
        assert_eq!(
            l.phase(),
            Phase::Waiting {
                generation: 0,
                until: t0 + GRACE
            }
        );
        assert_eq!(l.phase().name(), "reconnecting");
        assert!(l.phase().is_active());
        assert_eq!(l.poll_timeout(), Some(t0 + GRACE));
    }
}

#[test]
fn live_leave_graceful_ends_at_once_with_end_on_unpublish() {
    let t0 = Instant::now();
    let mut l = Lifecycle::new(policy(true));
    assert_eq!(l.leave(0, Departure::Graceful, t0), Transition::Ended);
    assert_eq!(
        l.phase(),
        Phase::Ended {
            until: t0 + RETENTION
        }
    );
    // An abrupt departure still waits, even with end_on_unpublish.
    let mut l = Lifecycle::new(policy(true));
    assert_eq!(l.leave(0, Departure::Abrupt, t0), Transition::Waiting);
}

#[test]
fn live_leave_of_a_stale_generation_changes_nothing() {
    let (mut l, t0) = in_phase("waiting");
    assert_eq!(l.publish(t0 + MS), Ok(1));
    // The first publisher's connection is torn down late.
    assert_eq!(
        l.leave(0, Departure::Abrupt, t0 + 2 * MS),
        Transition::Unchanged
    );
    assert_eq!(l.phase(), Phase::Live { generation: 1 });
}

#[test]
fn live_timeout_changes_nothing() {
    let (mut l, t0) = in_phase("live");
    assert_eq!(l.handle_timeout(t0 + GRACE * 100), Transition::Unchanged);
    assert_eq!(l.phase(), Phase::Live { generation: 0 });
}

#[test]
fn live_shutdown_ends() {
    let (mut l, t0) = in_phase("live");
    assert_eq!(l.shutdown(t0), Transition::Ended);
    assert_eq!(l.poll_timeout(), Some(t0 + RETENTION));
}

// --- Waiting ------------------------------------------------------------

/// HLS-LIVE-08: a publisher back within the grace period resumes the
/// instance, one millisecond before the end of it included.
#[test]
fn waiting_publish_at_grace_minus_1ms_resumes() {
    let (mut l, t0) = in_phase("waiting");
    assert_eq!(l.publish(t0 + GRACE - MS), Ok(1));
    assert_eq!(l.phase(), Phase::Live { generation: 1 });
    assert_eq!(l.poll_timeout(), None);
    // The next departure waits a full grace period again.
    let t1 = t0 + GRACE + GRACE;
    assert_eq!(l.leave(1, Departure::Graceful, t1), Transition::Waiting);
    assert_eq!(l.poll_timeout(), Some(t1 + GRACE));
}

/// The grace period is over at `grace` exactly, whether or not the timer
/// was serviced before the publisher came.
#[test]
fn waiting_publish_at_grace_plus_1ms_is_a_new_instance() {
    for at in [GRACE, GRACE + MS] {
        let (mut l, t0) = in_phase("waiting");
        assert_eq!(l.publish(t0 + at), Err(PublishError::Ended), "{at:?}");
        // The missed timeout was applied from the deadline, not from the publish.
        assert_eq!(
            l.phase(),
            Phase::Ended {
                until: t0 + GRACE + RETENTION
            }
        );
    }
}

#[test]
fn waiting_leave_again_changes_nothing() {
    let (mut l, t0) = in_phase("waiting");
    for how in [Departure::Graceful, Departure::Abrupt] {
        assert_eq!(l.leave(0, how, t0 + MS), Transition::Unchanged);
    }
    assert_eq!(l.poll_timeout(), Some(t0 + GRACE));
}

#[test]
fn waiting_timeout_ends_at_the_deadline_not_before() {
    let (mut l, t0) = in_phase("waiting");
    assert_eq!(l.handle_timeout(t0 + GRACE - MS), Transition::Unchanged);
    // Serviced late: the retention still counts from the grace deadline.
    assert_eq!(l.handle_timeout(t0 + GRACE + 5 * MS), Transition::Ended);
    assert_eq!(l.poll_timeout(), Some(t0 + GRACE + RETENTION));
    assert_eq!(l.phase().name(), "ended");
    assert!(!l.phase().is_active());
}

#[test]
fn waiting_shutdown_ends() {
    let (mut l, t0) = in_phase("waiting");
    assert_eq!(l.shutdown(t0 + MS), Transition::Ended);
    assert_eq!(
        l.phase(),
        Phase::Ended {
            until: t0 + MS + RETENTION
        }
    );
}

// --- Ended --------------------------------------------------------------

#[test]
fn ended_publish_asks_for_a_new_instance() {
    let (mut l, t0) = in_phase("ended");
    assert_eq!(l.publish(t0 + MS), Err(PublishError::Ended));
    assert!(matches!(l.phase(), Phase::Ended { .. }));
}

#[test]
fn ended_leave_and_shutdown_change_nothing() {
    let (mut l, t0) = in_phase("ended");
    assert_eq!(l.leave(0, Departure::Abrupt, t0), Transition::Unchanged);
    assert_eq!(l.leave(0, Departure::Graceful, t0), Transition::Unchanged);
    assert_eq!(l.shutdown(t0 + MS), Transition::Unchanged);
    assert_eq!(l.poll_timeout(), Some(t0 + RETENTION));
}

#[test]
fn ended_timeout_is_gone_after_the_retention() {
    let (mut l, t0) = in_phase("ended");
    assert_eq!(l.handle_timeout(t0 + RETENTION - MS), Transition::Unchanged);
    assert_eq!(l.handle_timeout(t0 + RETENTION), Transition::Gone);
    assert_eq!(l.phase(), Phase::Gone);
    assert_eq!(l.poll_timeout(), None);
}

/// A timer serviced very late runs the whole way in steps.
#[test]
fn a_late_timer_catches_up_one_step_per_call() {
    let (mut l, t0) = in_phase("waiting");
    let late = t0 + GRACE + RETENTION + Duration::from_secs(1);
    assert_eq!(l.handle_timeout(late), Transition::Ended);
    assert_eq!(l.handle_timeout(late), Transition::Gone);
    assert_eq!(l.handle_timeout(late), Transition::Unchanged);
}

// --- Gone ---------------------------------------------------------------

#[test]
fn gone_refuses_everything() {
    let (mut l, t0) = in_phase("gone");
    let later = t0 + RETENTION + MS;
    assert_eq!(l.publish(later), Err(PublishError::Ended));
    assert_eq!(l.leave(0, Departure::Abrupt, later), Transition::Unchanged);
    assert_eq!(l.shutdown(later), Transition::Unchanged);
    assert_eq!(l.handle_timeout(later), Transition::Unchanged);
    assert_eq!(l.phase(), Phase::Gone);
    assert_eq!(l.poll_timeout(), None);
    assert!(!l.phase().is_active());
}
