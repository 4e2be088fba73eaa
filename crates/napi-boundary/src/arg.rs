//! Argument checks shared by every binding. Each returns `ERR_KU0_INVALID_ARG` (a TypeError-kind
//! error) naming the argument; none of them allocates from the value it checks.

use std::time::Duration;

use napi::Result;

use crate::invalid_arg;

/// Largest integer a JS number holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// `v` is a finite number.
pub fn finite(v: f64, name: &str) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid_arg(format!(
            "{name} must be a finite number, got {v}"
        )))
    }
}

/// `v` is an integer in `min..=max` (both at most 2^53 - 1 in magnitude).
pub fn integer(v: f64, name: &str, min: f64, max: f64) -> Result<i64> {
    if !v.is_finite() || v.fract() != 0.0 || v < min || v > max {
        return Err(invalid_arg(format!(
            "{name} must be an integer in [{min}, {max}], got {v}"
        )));
    }
    Ok(v as i64)
}

/// `v` is a non-negative integer no larger than `max` (a count, a size, an index).
pub fn count(v: f64, name: &str, max: u64) -> Result<u64> {
    let max = (max as f64).min(MAX_SAFE_INTEGER);
    integer(v, name, 0.0, max).map(|n| n as u64)
}

/// `v` is a number in `min..=max` (finite).
pub fn in_range(v: f64, name: &str, min: f64, max: f64) -> Result<f64> {
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(invalid_arg(format!(
            "{name} must be a number in [{min}, {max}], got {v}"
        )))
    }
}

/// Longest timeout accepted anywhere (2^31 - 1 ms ≈ 24.8 days: the longest Node timer, so the JS and
/// native paths agree).
pub const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;

/// A timeout in milliseconds: finite, `> 0` and at most [`MAX_TIMEOUT_MS`]; never reaches
/// `Duration::from_secs_f64` with a value it panics on.
pub fn timeout_ms(v: f64, name: &str) -> Result<Duration> {
    if !v.is_finite() || v <= 0.0 || v > MAX_TIMEOUT_MS {
        return Err(invalid_arg(format!(
            "{name} must be a number of milliseconds in (0, {MAX_TIMEOUT_MS}], got {v}"
        )));
    }
    Duration::try_from_secs_f64(v / 1000.0)
        .map_err(|e| invalid_arg(format!("{name} is not a valid duration: {e}")))
}

/// A string no longer than `max` bytes.
pub fn max_len<'s>(s: &'s str, name: &str, max: usize) -> Result<&'s str> {
    if s.len() <= max {
        Ok(s)
    } else {
        Err(invalid_arg(format!(
            "{name} is {} bytes, over the limit of {max}",
            s.len()
        )))
    }
}
