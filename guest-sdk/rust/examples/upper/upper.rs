//! Upper-cases the ASCII letters of a node's output, and of each event
//! when the output is streamed.

use megaflow::Status;

fn upper(output: &[u8]) -> Status {
    megaflow::output().extend(output.iter().map(u8::to_ascii_uppercase));
    Status::OK
}

megaflow::plugin! {
    response: upper,
    event: upper,
}
