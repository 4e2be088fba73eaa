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

/// [`guard`] for an export that takes arguments (`#[guard]` injects `env`): when the body stops on a
/// JavaScript exception (thrown by JS the binding ran on the caller's values: a getter, a Proxy trap,
/// `JSON.stringify`), that exception is re-thrown coded (see [`recode_pending`]).
pub fn guard_env<T>(
    env: Env,
    export: &str,
    f: impl FnOnce() -> napi::Result<T>,
) -> napi::Result<T, Code> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        // SAFETY: `env` is the live env of this call (injected by napi-rs).
        Ok(Err(e)) => Err(to_js(unsafe { recode_if_js(env.raw(), e) })),
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
    // SAFETY: `env` is the live env of the current call (napi-rs hands it to the caller), and the
    // error value is created in that env and used before the call returns.
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
            // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
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
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    if e.status == Status::PendingException || unsafe { is_pending(env) } {
        // SAFETY: forwarded from the caller.
        return unsafe { recode_pending(env, e) };
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

/// The exception pending in `env` after an export or an argument conversion stopped on it (`e` has
/// status `PendingException`), made typed: an exception whose `code` is a string starting with `ERR_`
/// (the caller's own typed error, or one of ours from a nested call) is re-thrown as it is; any other
/// value is re-thrown as `ERR_KU0_INVALID_ARG` (the only JavaScript a binding runs is on the caller's
/// values: getters, Proxy traps, `JSON.stringify`, coercions) with the original exception as `cause`.
/// Also for an `e` that napi-rs already took off the env (it holds the JS exception). Returns the
/// "exception pending" marker napi-rs passes through.
///
/// # Safety
/// `env` must be the live env of the current call.
#[cold]
#[inline(never)]
pub unsafe fn recode_pending(env: sys::napi_env, e: Error) -> Error {
    let marker = || {
        Error::new(
            Status::PendingException,
            "ERR_KU0_INVALID_ARG: thrown".to_owned(),
        )
    };
    let mut pending = false;
    // SAFETY (all napi calls below): `env` is live (caller), values come from it.
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    if unsafe { sys::napi_is_exception_pending(env, &mut pending) } != sys::Status::napi_ok {
        return marker();
    }
    let exc = if pending {
        let mut exc = std::ptr::null_mut();
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        if unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) } != sys::Status::napi_ok
            || exc.is_null()
        {
            return marker();
        }
        exc
    } else {
        // napi-rs already took the exception off the env and holds it in `e` (a failed
        // `JSON.stringify`/coercion): its `into_value` is that original JS error.
        let reason = e.reason.clone();
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        let exc = unsafe { napi::JsError::from(e).into_value(env) };
        if exc.is_null() {
            return coded(INVALID_ARG, true, reason);
        }
        exc
    };
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    let code = unsafe { string_property(env, exc, c"code") };
    if code.as_deref().is_some_and(|c| c.starts_with("ERR_")) {
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        unsafe { sys::napi_throw(env, exc) };
        return marker();
    }
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    let detail = match unsafe { string_property(env, exc, c"message") } {
        Some(m) => m,
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        None => format!("a thrown {}", unsafe { raw_type_name(env, exc) }),
    };
    let err = Error::new(
        Status::InvalidArg,
        format!("{INVALID_ARG}: JavaScript threw while the binding read its arguments: {detail}"),
    );
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    let obj = unsafe { napi::JsError::from(to_js(err)).into_value(env) };
    if obj.is_null() {
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        unsafe { sys::napi_throw(env, exc) };
        return marker();
    }
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    unsafe {
        sys::napi_set_named_property(env, obj, c"cause".as_ptr(), exc);
        sys::napi_throw(env, obj);
    }
    marker()
}

/// Whether a JS exception is pending in `env`.
///
/// # Safety
/// `env` must be the live env of the current call.
unsafe fn is_pending(env: sys::napi_env) -> bool {
    let mut pending = false;
    // SAFETY: forwarded from the caller.
    unsafe { sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending }
}

/// `e` as it should reach napi-rs: when JS threw (an exception is pending, or napi-rs took it into
/// `e`), that exception re-thrown typed ([`recode_pending`]); else `e` unchanged.
///
/// # Safety
/// `env` must be the live env of the current call.
#[cold]
#[inline(never)]
pub unsafe fn recode_if_js(env: sys::napi_env, e: Error) -> Error {
    // SAFETY: forwarded from the caller.
    if e.status == Status::PendingException || unsafe { is_pending(env) } {
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        unsafe { recode_pending(env, e) }
    } else {
        e
    }
}

/// `value[name]` when `value` is an object or function and that property is a string (at most 512
/// bytes are read); `None` otherwise, and when reading it throws (the exception is cleared).
unsafe fn string_property(
    env: sys::napi_env,
    value: sys::napi_value,
    name: &std::ffi::CStr,
) -> Option<String> {
    let mut t = 0;
    // SAFETY (all napi calls below): forwarded from the caller.
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    unsafe { sys::napi_typeof(env, value, &mut t) };
    if t != sys::ValueType::napi_object && t != sys::ValueType::napi_function {
        return None;
    }
    let mut prop = std::ptr::null_mut();
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    if unsafe { sys::napi_get_named_property(env, value, name.as_ptr(), &mut prop) }
        != sys::Status::napi_ok
    {
        let mut ignored = std::ptr::null_mut();
        // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut ignored) };
        return None;
    }
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    unsafe { sys::napi_typeof(env, prop, &mut t) };
    if t != sys::ValueType::napi_string {
        return None;
    }
    let mut buf = [0u8; 513];
    let mut len = 0usize;
    // SAFETY: `env` is the live env of this call (the caller's contract); values come from it.
    if unsafe {
        sys::napi_get_value_string_utf8(env, prop, buf.as_mut_ptr().cast(), buf.len(), &mut len)
    } != sys::Status::napi_ok
    {
        return None;
    }
    Some(String::from_utf8_lossy(&buf[..len.min(512)]).into_owned())
}

/// `typeof value`, for messages about thrown non-objects.
unsafe fn raw_type_name(env: sys::napi_env, value: sys::napi_value) -> &'static str {
    let mut t = -1;
    // SAFETY: forwarded from the caller.
    unsafe { sys::napi_typeof(env, value, &mut t) };
    match t {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "boolean",
        sys::ValueType::napi_number => "number",
        sys::ValueType::napi_string => "string",
        sys::ValueType::napi_symbol => "symbol",
        sys::ValueType::napi_object => "object",
        sys::ValueType::napi_function => "function",
        _ => "value",
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
            // JS threw while reading the element (a getter, `null` where an object goes): the
            // caller's guard or `Arg` re-throws it typed (see `recode_pending`).
            Err(e) if e.status == Status::PendingException => return Err(e),
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
        array_to_vec(&arr, MAX_ARRAY_LEN).map(List).map_err(|e| {
            // SAFETY: env comes from napi-rs.
            if e.status == Status::PendingException || unsafe { is_pending(env) } {
                // SAFETY: env comes from napi-rs.
                unsafe { recode_pending(env, e) }
            } else {
                // SAFETY: env comes from napi-rs.
                unsafe { throw_coded(env, e) }
            }
        })
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
