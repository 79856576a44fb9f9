//! The Rust guest SDK for megaflow plugins: WebAssembly modules that shape
//! requests, responses and server-sent events, combine the outputs of
//! several nodes, or choose which nodes run next.
//!
//! A plugin is a `cdylib` crate for `wasm32-unknown-unknown` (or
//! `wasm32-wasi`). It writes its hooks as plain functions and names them
//! in one [`plugin!`] invocation, which generates the module's exports:
//!
//! ```ignore
//! use megaflow::Status;
//!
//! fn response(output: &[u8]) -> Status {
//!     megaflow::write(&output.to_ascii_uppercase());
//!     Status::OK
//! }
//!
//! megaflow::plugin! { response: response }
//! ```
//!
//! The SDK implements ABI version 1 (`docs/ABI.md` in the megaflow
//! repository). It owns the input buffer the host writes into, collects
//! output and hands it to the host in one call when the hook returns.
//!
//! Slices passed to a hook are valid only until it returns. The module is
//! single-threaded and the host runs one call per instance at a time,
//! which is what makes the SDK's global buffers sound.
//!
//! A panic aborts, which traps: the host fails the request with status
//! 500 and replaces the instance. Return [`fail`] for an expected error.

#![forbid(unsafe_op_in_unsafe_fn)]

mod frame;
mod state;
#[cfg(test)]
mod tests;

#[doc(hidden)]
pub mod __private;

pub use frame::Frames;

/// The ABI version this SDK implements, returned by `megaflow_abi_version`.
pub const ABI_VERSION: i32 = 1;

/// A hook's result: [`Status::OK`], [`Status::UNCHANGED`], a short-circuit
/// response status from [`respond`] or a failure status from [`fail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub i32);

impl Status {
    /// Success: the hook's output replaces its input.
    pub const OK: Status = Status(0);
    /// The input passes through as it was, and anything written is
    /// discarded. For a route hook it selects every successor.
    pub const UNCHANGED: Status = Status(1);
}

/// A log level, numbered as in Go's `log/slog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Level {
    Debug = -4,
    Info = 0,
    Warn = 4,
    Error = 8,
}

/// One named input of an aggregate hook.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The predecessor node's name.
    pub name: &'a [u8],
    /// The output's media type, empty when unknown.
    pub content_type: &'a [u8],
    /// The predecessor's output.
    pub data: &'a [u8],
}

/// The input of a request hook: the node's input and the headers set for
/// the service call so far.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The node's input.
    pub body: &'a [u8],
    headers: &'a [u8],
}

impl<'a> Request<'a> {
    /// Iterates over the headers as (name, value) pairs, in order. A
    /// truncated header block ends the iteration.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let mut frames = Frames::new(self.headers);
        core::iter::from_fn(move || Some((frames.next()?, frames.next()?)))
    }

    /// Returns the value of the first header called `name`, compared
    /// ASCII case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
}

/// Appends `p` to the hook's output.
pub fn write(p: &[u8]) {
    state::output().extend_from_slice(p);
}

/// Appends `s` to the hook's output.
pub fn write_str(s: &str) {
    write(s.as_bytes());
}

/// Returns the output written so far, for hooks that build it in place.
pub fn output() -> &'static mut Vec<u8> {
    state::output()
}

/// Marks a successor to run, from a route hook.
pub fn select(name: &[u8]) {
    frame::append(state::output(), name);
}

/// Discards the output and returns a failure with an HTTP status from 400
/// to 599 (another value becomes 500) and `message`, which the host logs
/// and reports to the client.
pub fn fail(status: i32, message: &str) -> Status {
    fail_bytes(status, message.as_bytes())
}

/// [`fail`] with a message of arbitrary bytes.
pub fn fail_bytes(status: i32, message: &[u8]) -> Status {
    let out = state::output();
    out.clear();
    out.extend_from_slice(message);
    Status(if (400..=599).contains(&status) { status } else { 500 })
}

/// Answers the client with `status` (200 to 399) and `body` in place of
/// calling the node's service, from a request hook only. Another status fails the
/// call with 500.
pub fn respond(status: i32, body: &[u8]) -> Status {
    if !(200..=399).contains(&status) {
        return fail(500, &format!("respond: status {status} is outside 200-399"));
    }
    let out = state::output();
    out.clear();
    out.extend_from_slice(body);
    Status(status)
}

/// Sets an outgoing header, replacing any of the same name, from a request
/// hook only.
pub fn set_header(name: &[u8], value: &[u8]) {
    state::host_set_header(name, value);
}

/// Removes an outgoing header, from a request hook only.
pub fn delete_header(name: &[u8]) {
    state::host_delete_header(name);
}

/// Sends a message to the host's log, tagged with the plugin's name. The
/// host rate-limits plugin logs.
pub fn log(level: Level, message: &str) {
    log_bytes(level, message.as_bytes());
}

/// [`log`] with a message of arbitrary bytes.
pub fn log_bytes(level: Level, message: &[u8]) {
    state::host_log(level as i32, message);
}
