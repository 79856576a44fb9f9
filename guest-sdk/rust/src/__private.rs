//! The functions behind the exports that [`plugin!`](crate::plugin)
//! generates. They are public only so that the macro can reach them from
//! the plugin crate, and plugins do not call them.

use crate::frame::Frames;
use crate::state::{self, finish};
use crate::{fail, Input, Request, Status};

pub use crate::state::buffer;

/// Hook bits of `megaflow_hooks`.
pub const HOOK_REQUEST: u32 = 1;
pub const HOOK_RESPONSE: u32 = 2;
pub const HOOK_EVENT: u32 = 4;
pub const HOOK_AGGREGATE: u32 = 8;
pub const HOOK_ROUTE: u32 = 16;

fn truncated(what: &str) -> u32 {
    finish(fail(500, &format!("the host announced more {what} than the input buffer holds")))
}

pub fn init(n: u32, hook: fn(&[u8]) -> Result<(), String>) -> u32 {
    let config = match state::input(n) {
        Some(config) => config,
        None => return truncated("config"),
    };
    match hook(config) {
        Ok(()) => finish(Status::OK),
        Err(message) => finish(fail(500, &message)),
    }
}

pub fn request(body_len: u32, headers_len: u32, hook: fn(&Request) -> Status) -> u32 {
    let input = match state::input(body_len.saturating_add(headers_len)) {
        Some(input) => input,
        None => return truncated("request input"),
    };
    let (body, headers) = input.split_at(body_len as usize);
    finish(hook(&Request { body, headers }))
}

pub fn bytes_hook(n: u32, hook: fn(&[u8]) -> Status) -> u32 {
    match state::input(n) {
        Some(input) => finish(hook(input)),
        None => truncated("input"),
    }
}

pub fn aggregate(count: u32, n: u32, hook: fn(&[Input]) -> Status) -> u32 {
    let batch = match state::input(n) {
        Some(batch) => batch,
        None => return truncated("aggregate input"),
    };
    let mut frames = Frames::new(batch);
    let mut inputs = Vec::with_capacity(count as usize);
    for i in 0..count {
        match (frames.next(), frames.next(), frames.next()) {
            (Some(name), Some(content_type), Some(data)) => {
                inputs.push(Input { name, content_type, data })
            }
            _ => {
                let message = format!("aggregate batch is truncated at input {i} of {count}");
                return finish(fail(500, &message));
            }
        }
    }
    finish(hook(&inputs))
}

pub fn route(output_len: u32, names_len: u32, count: u32, hook: fn(&[u8], &[&[u8]]) -> Status) -> u32 {
    let input = match state::input(output_len.saturating_add(names_len)) {
        Some(input) => input,
        None => return truncated("route input"),
    };
    let (output, names) = input.split_at(output_len as usize);
    let mut frames = Frames::new(names);
    let mut successors = Vec::with_capacity(count as usize);
    for i in 0..count {
        match frames.next() {
            Some(name) => successors.push(name),
            None => {
                let message = format!("route successor list is truncated at name {i} of {count}");
                return finish(fail(500, &message));
            }
        }
    }
    finish(hook(output, &successors))
}

/// Generates the module's ABI exports for the hooks it names.
///
/// Each entry is `hook: function`, where hook is one of `init`, `request`,
/// `response`, `event`, `aggregate` and `route`, and the function has the
/// matching signature:
///
/// | hook | function |
/// |---|---|
/// | `init` | `fn(config: &[u8]) -> Result<(), String>` |
/// | `request` | `fn(&Request) -> Status` |
/// | `response` | `fn(output: &[u8]) -> Status` |
/// | `event` | `fn(event: &[u8]) -> Status` |
/// | `aggregate` | `fn(&[Input]) -> Status` |
/// | `route` | `fn(output: &[u8], successors: &[&[u8]]) -> Status` |
///
/// Use it once, in the crate root of the plugin.
#[macro_export]
macro_rules! plugin {
    (@bit init) => { 0u32 };
    (@bit request) => { $crate::__private::HOOK_REQUEST };
    (@bit response) => { $crate::__private::HOOK_RESPONSE };
    (@bit event) => { $crate::__private::HOOK_EVENT };
    (@bit aggregate) => { $crate::__private::HOOK_AGGREGATE };
    (@bit route) => { $crate::__private::HOOK_ROUTE };

    (@export init $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_init(n: u32) -> u32 { $crate::__private::init(n, $f) }
    };
    (@export request $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_request(body_len: u32, headers_len: u32) -> u32 {
            $crate::__private::request(body_len, headers_len, $f)
        }
    };
    (@export response $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_response(n: u32) -> u32 { $crate::__private::bytes_hook(n, $f) }
    };
    (@export event $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_event(n: u32) -> u32 { $crate::__private::bytes_hook(n, $f) }
    };
    (@export aggregate $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_aggregate(count: u32, n: u32) -> u32 {
            $crate::__private::aggregate(count, n, $f)
        }
    };
    (@export route $f:expr) => {
        #[no_mangle]
        pub extern "C" fn megaflow_route(output_len: u32, names_len: u32, count: u32) -> u32 {
            $crate::__private::route(output_len, names_len, count, $f)
        }
    };

    ($($hook:ident : $f:expr),+ $(,)?) => {
        #[no_mangle]
        pub extern "C" fn megaflow_abi_version() -> i32 { $crate::ABI_VERSION }

        #[no_mangle]
        pub extern "C" fn megaflow_buffer(size: u32) -> u32 { $crate::__private::buffer(size) }

        #[no_mangle]
        pub extern "C" fn megaflow_hooks() -> u32 { 0 $(| $crate::plugin!(@bit $hook))+ }

        $($crate::plugin!(@export $hook $f);)+
    };
}
