//! The one N-API boundary of every ku0 binding.
//!
//! - [`guard`] (used through the `#[guard]` attribute) runs an export's body under `catch_unwind`: a
//!   panic becomes a JS error with `code: "ERR_KU0_NATIVE_PANIC"`; every other error becomes a JS error
//!   whose `code` property is its `ERR_KU0_…` code (see [`Code`]).
//! - [`guard_compute`] / [`coded_js_error`] do the same for `Task::compute` and promise rejections.
//! - Argument helpers ([`arg`]) check finiteness, integers, ranges and lengths, and [`List`] converts JS
//!   arrays element by element with a cap, never pre-allocating from an untrusted `length`.
//!
//! Error shape seen from JavaScript: `err.code` is the `ERR_KU0_…` code; `err.message` is
//! `"ERR_KU0_…: text"` (the code is repeated there for human logs and for callers that predate the
//! property); `err.cause.code` is the napi status (`"InvalidArg"` marks an error caused by the caller's
//! arguments, anything else a failure of the operation).
//!
//! Process aborts cannot be caught: Rust's allocation-failure handler aborts even under
//! `catch_unwind`. Hence the helpers here bound every allocation by the value's real contents.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use ku0_napi_boundary_macros::guard;
use napi::bindgen_prelude::ToNapiValue;
use napi::bindgen_prelude::{Array, FromNapiValue, TypeName, ValidateNapiValue};
use napi::{Env, Error, Status, Unknown, ValueType, sys};

pub mod arg;

/// Code of a Rust panic caught at the boundary.
pub const PANIC: &str = "ERR_KU0_NATIVE_PANIC";
/// Code of an argument the caller got wrong (type, finiteness, range, length).
pub const INVALID_ARG: &str = "ERR_KU0_INVALID_ARG";
/// Code of an error that carried no `ERR_KU0_…` code of its own.
pub const NATIVE_FAILURE: &str = "ERR_KU0_NATIVE_FAILURE";

/// The status type of every export's error: its `as_ref()` is the `ERR_KU0_…` code, which napi-rs
/// sets as the JS error's `code` property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(pub String);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An error with a stable code: `status` is `InvalidArg` for argument errors, else `GenericFailure`.
/// The message is rendered `"CODE: msg"`; [`to_js`] turns the prefix into the `code` property.
pub fn coded(code: &str, argument: bool, msg: impl Display) -> Error {
    let status = if argument {
        Status::InvalidArg
    } else {
        Status::GenericFailure
    };
    Error::new(status, format!("{code}: {msg}"))
}

/// `ERR_KU0_INVALID_ARG` with `msg`.
pub fn invalid_arg(msg: impl Display) -> Error {
    coded(INVALID_ARG, true, msg)
}

/// Splits `"ERR_KU0_X: text"` into `("ERR_KU0_X", "text")`.
fn split_code(reason: &str) -> Option<&str> {
    let (code, _) = reason.split_once(':')?;
    let ok = code.starts_with("ERR_KU0_")
        && code.len() > "ERR_KU0_".len()
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(code)
}

/// True for the napi statuses produced by argument conversion (wrong JS type).
fn is_argument_status(s: Status) -> bool {
    matches!(
        s,
        Status::InvalidArg
            | Status::ObjectExpected
            | Status::StringExpected
            | Status::NameExpected
            | Status::FunctionExpected
            | Status::NumberExpected
            | Status::BooleanExpected
            | Status::ArrayExpected
            | Status::BigintExpected
            | Status::DateExpected
            | Status::ArrayBufferExpected
            | Status::DetachableArraybufferExpected
    )
}

/// The code an error carries: its `ERR_KU0_…` message prefix, else `ERR_KU0_INVALID_ARG` for a
/// conversion/argument status, else `ERR_KU0_NATIVE_FAILURE`.
pub fn code_of(e: &Error) -> String {
    match split_code(&e.reason) {
        Some(c) => c.to_owned(),
        None if is_argument_status(e.status) => INVALID_ARG.to_owned(),
        None => NATIVE_FAILURE.to_owned(),
    }
}

/// The JS-facing form of an error: `code` property = its `ERR_KU0_…` code, message always prefixed by
/// it, `cause.code` = the napi status. A pending JS exception (thrown by a callback) is passed through.
pub fn to_js(e: Error) -> Error<Code> {
    if e.status == Status::PendingException {
        return Error::new(Code(Status::PendingException.as_ref().to_owned()), e.reason);
    }
    let code = code_of(&e);
    let reason = if split_code(&e.reason).is_some() {
        e.reason.clone()
    } else {
        format!("{code}: {}", e.reason)
    };
    let mut out = Error::new(Code(code), reason);
    out.cause = Some(Box::new(Error::new(e.status, "napi status".to_owned())));
    out
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// The error a caught panic becomes.
pub fn panic_error(export: &str, payload: &(dyn std::any::Any + Send)) -> Error {
    coded(
        PANIC,
        false,
        format!("{export} panicked: {}", panic_message(payload)),
    )
}

/// Runs an export's body: panics → `ERR_KU0_NATIVE_PANIC`, errors → coded JS errors (see [`to_js`]).
pub fn guard<T>(export: &str, f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T, Code> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_js),
        Err(p) => Err(to_js(panic_error(export, &*p))),
    }
}

/// `Task::compute` under `catch_unwind` (the status type of a `Task` is fixed; `reject` codes it).
pub fn guard_compute<T>(task: &str, f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(panic_error(task, &*p)),
    }
}

/// Builds the coded JS error object for `err` and returns it as an error that napi-rs passes through
/// verbatim (for `Task::reject` and deferred promises, whose status type is fixed).
pub fn coded_js_error(env: Env, err: Error) -> Error {
    if err.status == Status::PendingException {
        return err;
    }
    let raw = unsafe { napi::JsError::from(to_js(err)).into_value(env.raw()) };
    if raw.is_null() {
        return Error::new(
            Status::GenericFailure,
            "ERR_KU0_NATIVE_FAILURE: env is closing",
        );
    }
    // SAFETY: `raw` was just created in `env`.
    let value = unsafe { Unknown::from_raw_unchecked(env.raw(), raw) };
    Error::from(value)
}

/// Throws `e` as a coded JS error right away and returns the "exception pending" marker napi-rs
/// passes through untouched. For argument conversion, which runs before an export's guard.
///
/// # Safety
/// `env` must be the live env of the current call.
pub unsafe fn throw_coded(env: sys::napi_env, e: Error) -> Error {
    // SAFETY: forwarded from the caller.
    unsafe { napi::JsError::from(to_js(e)).throw_into(env) };
    Error::new(
        Status::PendingException,
        "ERR_KU0_INVALID_ARG: thrown".to_owned(),
    )
}

/// An export's argument as `#[guard]` declares it: converted by `T`'s own napi-rs conversion, but a
/// failure (a number where a `string` is declared, a wrong field type inside an `#[napi(object)]`,
/// a missing argument) is thrown as a coded JS error (`code: "ERR_KU0_INVALID_ARG"`, the napi status in
/// `cause.code`) instead of napi-rs's bare status code. `#[guard]` rewrites every plain argument `x: T`
/// to `x: Arg<T>` (`Option<T>` to `Option<Arg<T>>`, so optional stays optional) and unwraps it before
/// the body runs; the TypeScript type is pinned to `T`'s with `ts_arg_type`, so `binding.d.cts` does
/// not change. On success this is `T`'s conversion plus a move: nothing is checked or allocated twice.
#[repr(transparent)]
pub struct Arg<T>(pub T);

impl<T> Arg<T> {
    #[inline(always)]
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: FromNapiValue> FromNapiValue for Arg<T> {
    #[inline(always)]
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: forwarded from napi-rs.
        match unsafe { T::from_napi_value(env, v) } {
            Ok(v) => Ok(Arg(v)),
            Err(e) => Err(unsafe { arg_error(env, e) }),
        }
    }
}

/// The coded form of a failed argument conversion, thrown right away (see [`throw_coded`]): always
/// `ERR_KU0_INVALID_ARG` (napi-rs reports a few conversion failures as `GenericFailure`; they are
/// still the caller's argument), unless it already carries an `ERR_KU0_…` code; the napi status stays
/// the `cause.code`. An error already thrown (by a nested [`List`], or a throwing getter on the
/// caller's object) passes through.
#[cold]
#[inline(never)]
unsafe fn arg_error(env: sys::napi_env, e: Error) -> Error {
    if e.status == Status::PendingException {
        return e;
    }
    let e = if split_code(&e.reason).is_some() {
        e
    } else {
        Error::new(e.status, format!("{INVALID_ARG}: {}", e.reason))
    };
    // SAFETY: forwarded from the caller.
    unsafe { throw_coded(env, e) }
}

impl<T: TypeName> TypeName for Arg<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Arg<T> {
    unsafe fn validate(env: sys::napi_env, v: sys::napi_value) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from napi-rs.
        unsafe { T::validate(env, v) }
    }
}

/// Largest array the boundary converts (elements); larger arrays are rejected before any allocation.
pub const MAX_ARRAY_LEN: u32 = 1 << 24;
/// Capacity reserved up front when converting an array; it grows with the elements actually read.
const INITIAL_CAPACITY: usize = 1024;

/// A JS array converted element by element: its `length` is checked against [`MAX_ARRAY_LEN`] before
/// anything is allocated, holes and wrongly typed elements are `ERR_KU0_INVALID_ARG`, and capacity
/// grows with the elements read (a sparse array with a huge `length` costs nothing). Use it instead of
/// `Vec<T>` for every array argument and `#[napi(object)]` field (with `ts_arg_type`/`ts_type`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T> List<T> {
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> std::ops::Deref for List<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a List<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: ToNapiValue> ToNapiValue for List<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from napi-rs.
        unsafe { Vec::<T>::to_napi_value(env, val.0) }
    }
}

/// Converts `arr` element by element (see [`List`]), at most `max` elements.
pub fn array_to_vec<T: FromNapiValue>(arr: &Array, max: u32) -> napi::Result<Vec<T>> {
    let len = arr.len();
    if len > max {
        return Err(invalid_arg(format!(
            "array of length {len} exceeds the limit of {max} elements"
        )));
    }
    let mut out = Vec::with_capacity((len as usize).min(INITIAL_CAPACITY));
    for i in 0..len {
        match arr.get::<T>(i) {
            Ok(Some(v)) => out.push(v),
            Ok(None) => return Err(invalid_arg(format!("array element {i} is missing"))),
            Err(e) => {
                return Err(invalid_arg(format!(
                    "array element {i} has the wrong type: {}",
                    e.reason
                )));
            }
        }
    }
    Ok(out)
}

impl<T: FromNapiValue> FromNapiValue for List<T> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        let mut is_array = false;
        // SAFETY: env and value come from napi-rs.
        unsafe { napi::check_status!(sys::napi_is_array(env, v, &mut is_array))? };
        if !is_array {
            // SAFETY: env comes from napi-rs.
            return Err(unsafe { throw_coded(env, invalid_arg("expected an array")) });
        }
        // SAFETY: checked to be an array above.
        let arr = unsafe { Array::from_napi_value(env, v)? };
        array_to_vec(&arr, MAX_ARRAY_LEN)
            .map(List)
            .map_err(|e| unsafe { throw_coded(env, e) })
    }
}

impl<T> TypeName for List<T> {
    fn type_name() -> &'static str {
        "Array"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T: FromNapiValue> ValidateNapiValue for List<T> {}

/// JS type of a value (for error messages).
pub fn type_of(v: &Unknown) -> &'static str {
    match v.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "boolean",
        Ok(ValueType::Number) => "number",
        Ok(ValueType::String) => "string",
        Ok(ValueType::Symbol) => "symbol",
        Ok(ValueType::Object) => "object",
        Ok(ValueType::Function) => "function",
        Ok(ValueType::BigInt) => "bigint",
        _ => "unknown",
    }
}
