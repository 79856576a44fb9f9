//! The SDK's global buffers and the host's imports.

use core::ptr::addr_of_mut;

// The module is single-threaded and the host runs one call at a time on an
// instance, so no two references to these buffers are ever live at once
// across a hook call boundary.
static mut INPUT: Vec<u8> = Vec::new();
static mut OUTPUT: Vec<u8> = Vec::new();

/// The largest output buffer kept for the next call, in bytes. A larger one
/// is freed.
const MAX_KEPT_OUTPUT: usize = 1 << 20;

pub(crate) fn output() -> &'static mut Vec<u8> {
    // SAFETY: see the comment on OUTPUT.
    unsafe { &mut *addr_of_mut!(OUTPUT) }
}

fn input_buffer() -> &'static mut Vec<u8> {
    // SAFETY: see the comment on INPUT.
    unsafe { &mut *addr_of_mut!(INPUT) }
}

/// Returns the address of an input buffer of at least `size` bytes, or 0
/// when memory cannot grow that far.
pub fn buffer(size: u32) -> u32 {
    let input = input_buffer();
    let size = (size as usize).max(1);
    if input.len() < size {
        let mut fresh = Vec::new();
        if fresh.try_reserve_exact(size).is_err() {
            return 0;
        }
        fresh.resize(size, 0);
        *input = fresh;
    }
    input.as_mut_ptr() as u32
}

/// Returns the first `n` bytes of the input buffer, or None when the host
/// announced more than it has.
pub(crate) fn input(n: u32) -> Option<&'static [u8]> {
    input_buffer().get(..n as usize)
}

/// Hands the output to the host and returns the status to it.
pub(crate) fn finish(status: crate::Status) -> u32 {
    let out = output();
    if status != crate::Status::UNCHANGED && !out.is_empty() {
        // SAFETY: the pointer and length describe live memory of `out`.
        unsafe { host::output(out.as_ptr(), out.len() as u32) };
    }
    out.clear();
    if out.capacity() > MAX_KEPT_OUTPUT {
        *out = Vec::new();
    }
    status.0 as u32
}

pub(crate) fn host_set_header(name: &[u8], value: &[u8]) {
    // SAFETY: the host reads the ranges before it returns.
    unsafe { host::set_header(name.as_ptr(), name.len() as u32, value.as_ptr(), value.len() as u32) }
}

pub(crate) fn host_delete_header(name: &[u8]) {
    // SAFETY: the host reads the range before it returns.
    unsafe { host::delete_header(name.as_ptr(), name.len() as u32) }
}

pub(crate) fn host_log(level: i32, message: &[u8]) {
    // SAFETY: the host reads the range before it returns.
    unsafe { host::log(level, message.as_ptr(), message.len() as u32) }
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "megaflow")]
    extern "C" {
        pub fn output(ptr: *const u8, len: u32);
        pub fn set_header(name_ptr: *const u8, name_len: u32, value_ptr: *const u8, value_len: u32);
        pub fn delete_header(name_ptr: *const u8, name_len: u32);
        pub fn log(level: i32, ptr: *const u8, len: u32);
    }
}

// Outside wasm32 there is no host: these stand-ins let plugin crates build
// and run unit tests natively, and discard what they receive.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    pub unsafe fn output(_: *const u8, _: u32) {}
    pub unsafe fn set_header(_: *const u8, _: u32, _: *const u8, _: u32) {}
    pub unsafe fn delete_header(_: *const u8, _: u32) {}
    pub unsafe fn log(_: i32, _: *const u8, _: u32) {}
}
