//! Frames: a little-endian u32 length followed by that many bytes. Header
//! blocks, aggregate batches and route name lists are lists of frames.

/// An iterator over the frames of a frame list. It stops at the end of the
/// list or at a truncated frame, and [`Frames::rest`] tells which.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Frames<'a> {
    /// Returns an iterator over the frames of `list`.
    pub fn new(list: &'a [u8]) -> Self {
        Frames { rest: list }
    }

    /// Returns the bytes not consumed yet: empty after a whole list.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.len() < 4 {
            return None;
        }
        let (head, tail) = self.rest.split_at(4);
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if n > tail.len() {
            return None;
        }
        let (frame, rest) = tail.split_at(n);
        self.rest = rest;
        Some(frame)
    }
}

/// Appends one frame holding `p` to `dst`.
pub fn append(dst: &mut Vec<u8>, p: &[u8]) {
    dst.extend_from_slice(&(p.len() as u32).to_le_bytes());
    dst.extend_from_slice(p);
}
