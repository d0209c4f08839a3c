//! Retrying what the API server says is worth retrying: `429 Too Many Requests` (API Priority
//! and Fairness, max-in-flight) and `5xx` answers that mean "not now" (500, 502, 503, 504).
//!
//! kube-rs 5 has its own retry layer (`kube_client::client::retry::RetryPolicy::server_retry`,
//! on by default through `Config::default_retry`), but it retries only 429, 503 and 504, up to
//! 15 times with an exponential backoff capped at 1000 s (minutes of silence for a command
//! line tool), and it honours `Retry-After` only when that is longer than its own backoff. So
//! lbip turns it off (`default_retry = false`, never two layers retrying the same request)
//! and installs [`ApiRetry`] instead: at most [`MAX_RETRIES`] retries, waiting what the
//! server's `Retry-After` says (capped at [`MAX_RETRY_AFTER`]) or else an exponential backoff
//! from [`FIRST_BACKOFF`] with a little jitter. This is close to what client-go does for
//! kubectl (it retries 429 and 5xx that carry `Retry-After`, up to 10 times), without
//! client-go's "no `Retry-After`, no retry": a 500 from an API server restarting behind a
//! load balancer usually carries none.
//!
//! Retrying is safe for every request lbip sends: reads are idempotent, and every patch
//! carries the `resourceVersion` it was planned from, so a patch that did land before its
//! answer got lost comes back as a 409 and is recomputed, never applied twice.

use http::{HeaderMap, Request, Response, StatusCode};
use kube::client::Body;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tower::BoxError;

/// Retries after the first answer; the request is sent at most `MAX_RETRIES + 1` times.
pub const MAX_RETRIES: u32 = 5;
/// The first backoff without `Retry-After`; it doubles each time (0.1, 0.2, 0.4, 0.8, 1.6 s).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest `Retry-After` honoured for one retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The retry policy of lbip's Kubernetes client. One value is cloned per request (tower does
/// that), so `attempt` counts the retries of that request only; `gave_up` is shared, so the
/// error message of a request that was retried in vain can say so.
#[derive(Clone, Debug)]
pub struct ApiRetry {
    attempt: u32,
    gave_up: Arc<AtomicU32>,
}

impl ApiRetry {
    pub fn new(gave_up: Arc<AtomicU32>) -> ApiRetry {
        ApiRetry {
            attempt: 0,
            gave_up,
        }
    }
}

/// Whether an answer with this status may succeed when sent again.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (the form API servers send; an HTTP date is not honoured and the
/// backoff applies).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The wait before retry number `attempt` (0-based) when the server names none: doubling from
/// [`FIRST_BACKOFF`], plus up to a quarter of it at random so that many clients backing off
/// together do not come back in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.min(16));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

impl<B> tower::retry::Policy<Request<Body>, Response<B>, BoxError> for ApiRetry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        // Transport errors are not retried here: the caller knows whether that is safe.
        let Ok(response) = result else {
            return None;
        };
        if !is_retryable(response.status()) {
            return None;
        }
        if self.attempt >= MAX_RETRIES {
            self.gave_up.store(self.attempt, Ordering::Relaxed);
            return None;
        }
        let wait = retry_after(response.headers()).unwrap_or_else(|| backoff(self.attempt));
        self.attempt += 1;
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // Bodies lbip sends are buffered (JSON), so they clone; a streaming one would not,
        // and such a request is simply not retried.
        let body = req.body().try_clone()?;
        let mut clone = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *clone.headers_mut() = req.headers().clone();
        *clone.extensions_mut() = req.extensions().clone();
        Some(clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::retry::Policy;

    fn answer(code: u16, retry_after: Option<&str>) -> Result<Response<()>, BoxError> {
        let mut r = Response::builder().status(code);
        if let Some(v) = retry_after {
            r = r.header("Retry-After", v);
        }
        Ok(r.body(()).unwrap())
    }

    #[test]
    fn only_429_and_transient_5xx_are_retried_at_most_five_times() {
        // The policy's waits are tokio timers.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _runtime = rt.enter();
        for code in [429, 500, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409, 410, 422, 501, 505] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        let gave_up = Arc::new(AtomicU32::new(0));
        let mut policy = ApiRetry::new(gave_up.clone());
        let mut req = Request::new(Body::empty());
        let mut retries = 0;
        while policy.retry(&mut req, &mut answer(503, None)).is_some() {
            retries += 1;
        }
        assert_eq!(retries, MAX_RETRIES);
        assert_eq!(gave_up.load(Ordering::Relaxed), MAX_RETRIES);
        assert!(
            ApiRetry::new(gave_up)
                .retry(&mut req, &mut answer(404, None))
                .is_none()
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap_and_backoff_doubles() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("Retry-After", v.parse().unwrap());
            h
        };
        assert_eq!(retry_after(&headers("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&headers("3600")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
        for attempt in 0..5 {
            let base = FIRST_BACKOFF * 2u32.pow(attempt);
            let d = backoff(attempt);
            assert!(d >= base && d <= base + base / 4, "{attempt}: {d:?}");
        }
    }
}
