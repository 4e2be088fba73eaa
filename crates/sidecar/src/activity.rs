//! Idle tracking: every application RPC holds a [`CallGuard`] while it runs; the daemon is idle when
//! no call is in flight and the last one ended at least the idle timeout ago.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Inner {
    start: Instant,
    /// Milliseconds since `start` of the last call start or end.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// Shared activity clock (cheap to clone).
#[derive(Debug, Clone)]
pub struct Activity(Arc<Inner>);

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    pub fn new() -> Self {
        Activity(Arc::new(Inner {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.0.last_ms.fetch_max(self.now_ms(), Ordering::SeqCst);
    }

    /// Marks a call in flight until the guard drops.
    pub fn enter(&self) -> CallGuard {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        CallGuard(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// `None` while calls are in flight; else how long until the daemon has been idle for `timeout`
    /// (zero: idle now).
    pub fn idle_remaining(&self, timeout: Duration) -> Option<Duration> {
        if self.in_flight() > 0 {
            return None;
        }
        let idle = Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.0.last_ms.load(Ordering::SeqCst)),
        );
        Some(timeout.saturating_sub(idle))
    }

    /// Resolves once the daemon has been idle for `timeout`.
    pub async fn wait_idle(&self, timeout: Duration) {
        loop {
            match self.idle_remaining(timeout) {
                Some(d) if d.is_zero() => return,
                Some(d) => tokio::time::sleep(d).await,
                // A call is running: it will touch the clock when it ends; check again after at most
                // one timeout.
                None => tokio::time::sleep(timeout.max(Duration::from_millis(10))).await,
            }
        }
    }
}

/// Held by a running call.
#[derive(Debug)]
pub struct CallGuard(Activity);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_call_is_never_idle() {
        let a = Activity::new();
        let g = a.enter();
        assert_eq!(a.idle_remaining(Duration::ZERO), None);
        drop(g);
        assert_eq!(a.idle_remaining(Duration::ZERO), Some(Duration::ZERO));
        assert!(
            a.idle_remaining(Duration::from_secs(60))
                .is_some_and(|d| d > Duration::from_secs(59))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn wait_idle_resolves_after_the_timeout() {
        let a = Activity::new();
        let t0 = Instant::now();
        drop(a.enter());
        a.wait_idle(Duration::from_millis(50)).await;
        assert!(t0.elapsed() >= Duration::from_millis(50));
    }
}
