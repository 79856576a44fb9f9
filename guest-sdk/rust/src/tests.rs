//! Native unit tests of the parts that need no host. Run them with
//! `rustc --edition 2021 --test src/lib.rs -o sdk-tests && ./sdk-tests
//! --test-threads=1` (build.sh does), one thread because the SDK's output
//! buffer is global.

use crate::frame::{append, Frames};
use crate::{fail, output, respond, select, write, Request, Status};

fn frames(parts: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for part in parts {
        append(&mut list, part);
    }
    list
}

#[test]
fn frames_round_trip() {
    let list = frames(&[b"a", b"", b"\xff\x00"]);
    let got: Vec<&[u8]> = Frames::new(&list).collect();
    assert_eq!(got, vec![&b"a"[..], &b""[..], &b"\xff\x00"[..]]);
}

#[test]
fn frames_stop_at_truncation() {
    let mut list = frames(&[b"ok"]);
    list.extend_from_slice(&[9, 0, 0, 0, b'x']);
    let mut it = Frames::new(&list);
    assert_eq!(it.next(), Some(&b"ok"[..]));
    assert_eq!(it.next(), None);
    assert_eq!(it.rest().len(), 5);
}

#[test]
fn request_headers_in_order() {
    let block = frames(&[b"Content-Type", b"text/plain", b"x-a", b"1"]);
    let request = Request { body: b"", headers: &block };
    let got: Vec<(&[u8], &[u8])> = request.headers().collect();
    assert_eq!(got, vec![(&b"Content-Type"[..], &b"text/plain"[..]), (&b"x-a"[..], &b"1"[..])]);
}

#[test]
fn request_header_ignores_case() {
    let block = frames(&[b"Content-Type", b"text/plain"]);
    let request = Request { body: b"", headers: &block };
    assert_eq!(request.header("content-type"), Some(&b"text/plain"[..]));
    assert_eq!(request.header("accept"), None);
}

#[test]
fn fail_replaces_output() {
    output().clear();
    write(b"partial");
    assert_eq!(fail(404, "missing"), Status(404));
    assert_eq!(output().as_slice(), b"missing");
}

#[test]
fn fail_clamps_status() {
    output().clear();
    assert_eq!(fail(200, "x"), Status(500));
    assert_eq!(fail(600, "x"), Status(500));
}

#[test]
fn respond_rejects_failure_status() {
    output().clear();
    assert_eq!(respond(203, b"body"), Status(203));
    assert_eq!(output().as_slice(), b"body");
    assert_eq!(respond(404, b"body"), Status(500));
}

#[test]
fn select_writes_frames() {
    output().clear();
    select(b"llm");
    select(b"web");
    assert_eq!(output().as_slice(), frames(&[b"llm", b"web"]).as_slice());
    output().clear();
}
