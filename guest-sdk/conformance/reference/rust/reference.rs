//! The conformance reference plugin written with the Rust guest SDK. Its
//! behaviour is specified in guest-sdk/conformance/README.md and is
//! identical in every language of guest-sdk/conformance/reference.

use megaflow::{Input, Level, Request, Status};

static mut PREFIX: Vec<u8> = Vec::new();

fn prefix() -> &'static [u8] {
    // SAFETY: the module is single-threaded, and only init writes PREFIX.
    unsafe { &*core::ptr::addr_of!(PREFIX) }
}

fn init(config: &[u8]) -> Result<(), String> {
    megaflow::log(Level::Info, &format!("conformance: init with {} config bytes", config.len()));
    if config.is_empty() {
        return Ok(());
    }
    if config[0] != b'{' {
        return Err("config is not a JSON object".into());
    }
    let key = b"\"prefix\":\"";
    let start = match find(config, key) {
        Some(start) => start + key.len(),
        None => return Ok(()),
    };
    let rest = &config[start..];
    let end = match rest.iter().position(|&c| c == b'"') {
        Some(end) => end,
        None => return Err("config prefix is not terminated".into()),
    };
    // SAFETY: as in prefix(); no reference to PREFIX is live here.
    unsafe { *core::ptr::addr_of_mut!(PREFIX) = rest[..end].to_vec() };
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn request(req: &Request) -> Status {
    let body = req.body;
    if body.is_empty() {
        return megaflow::fail(400, "empty body");
    }
    if let Some(message) = body.strip_prefix(b"error:") {
        return megaflow::fail_bytes(422, message);
    }
    if let Some(answer) = body.strip_prefix(b"short:") {
        megaflow::set_header(b"x-short", b"yes");
        return megaflow::respond(203, answer);
    }
    if let Some(message) = body.strip_prefix(b"log:") {
        megaflow::log_bytes(Level::Warn, message);
        return Status::UNCHANGED;
    }

    megaflow::write(prefix());
    megaflow::write(body);
    for (name, value) in req.headers() {
        if name.starts_with(b"x-drop-") {
            megaflow::delete_header(name);
            continue;
        }
        megaflow::write(b"\n");
        megaflow::write(name);
        megaflow::write(b": ");
        megaflow::write(value);
    }
    megaflow::set_header(b"x-body-length", body.len().to_string().as_bytes());
    Status::OK
}

fn response(output: &[u8]) -> Status {
    if output.is_empty() {
        return Status::UNCHANGED;
    }
    if let Some(message) = output.strip_prefix(b"error:") {
        megaflow::log(Level::Error, "conformance: response error");
        return megaflow::fail_bytes(502, message);
    }
    megaflow::write(prefix());
    write_upper(output);
    Status::OK
}

fn event(ev: &[u8]) -> Status {
    if ev.is_empty() {
        return Status::OK;
    }
    if ev[0] == b':' {
        megaflow::log(Level::Debug, "conformance: dropped comment");
        return Status::OK;
    }
    if ev.starts_with(b"data: [DONE]") {
        return Status::UNCHANGED;
    }
    write_upper(ev);
    Status::OK
}

fn aggregate(inputs: &[Input]) -> Status {
    if inputs.is_empty() {
        return megaflow::fail(422, "no inputs");
    }
    if let Some(failed) = inputs.iter().find(|input| input.name == b"error") {
        let mut message = b"input error: ".to_vec();
        message.extend_from_slice(failed.data);
        return megaflow::fail_bytes(500, &message);
    }
    megaflow::write_str(&inputs.len().to_string());
    megaflow::write(b"\n");
    for input in inputs {
        megaflow::write(input.name);
        megaflow::write(b"\t");
        megaflow::write(input.content_type);
        megaflow::write(b"\t");
        megaflow::write_str(&input.data.len().to_string());
        megaflow::write(b"\t");
        megaflow::write(input.data);
        megaflow::write(b"\n");
    }
    Status::OK
}

fn route(output: &[u8], successors: &[&[u8]]) -> Status {
    if output.is_empty() {
        return Status::UNCHANGED;
    }
    if output == b"none" {
        return Status::OK;
    }
    if let Some(message) = output.strip_prefix(b"error:") {
        return megaflow::fail_bytes(409, message);
    }
    for name in output.split(|&c| c == b',') {
        if !successors.contains(&name) {
            let mut message = b"no successor named ".to_vec();
            message.extend_from_slice(name);
            return megaflow::fail_bytes(404, &message);
        }
    }
    for successor in successors {
        if output.split(|&c| c == b',').any(|name| name == *successor) {
            megaflow::select(successor);
        }
    }
    Status::OK
}

/// Writes p with ASCII letters upper-cased and every other byte, UTF-8 or
/// not, as it is.
fn write_upper(p: &[u8]) {
    let out = megaflow::output();
    out.extend(p.iter().map(u8::to_ascii_uppercase));
}

megaflow::plugin! {
    init: init,
    request: request,
    response: response,
    event: event,
    aggregate: aggregate,
    route: route,
}
