//! Buffer reads and writes (`proxy_get_buffer_bytes`, `proxy_set_buffer_bytes`), once for the
//! in-process host and the Envoy bridge, by the rules of Envoy's Wasm host: a read starting
//! past the end is `BAD_ARGUMENT` and is cut at the end otherwise; a write at 0 replaces the
//! first `size` bytes (so `(0, 0)` prepends), a write at or past the end appends, and a write
//! anywhere else is `BAD_ARGUMENT`.

use crate::Status;
use std::ops::Range;

/// The bytes `proxy_get_buffer_bytes(start, max)` returns from a buffer of `len` bytes.
pub fn read_range(len: usize, start: usize, max: usize) -> Result<Range<usize>, Status> {
    if start > len {
        return Err(Status::BadArgument);
    }
    Ok(start..start.saturating_add(max).min(len))
}

/// What `proxy_set_buffer_bytes(start, size, data)` does to a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Drop the first this many bytes, then put the data in front.
    ReplacePrefix(usize),
    /// Put the data after the last byte.
    Append,
}

impl Write {
    /// The write `proxy_set_buffer_bytes(start, size, …)` makes on a buffer of `len` bytes.
    pub fn of(len: usize, start: usize, size: usize) -> Result<Self, Status> {
        if start == 0 {
            Ok(Self::ReplacePrefix(size.min(len)))
        } else if start >= len {
            Ok(Self::Append)
        } else {
            Err(Status::BadArgument)
        }
    }

    /// Applies the write to `buffer`.
    pub fn apply(self, buffer: &mut Vec<u8>, data: &[u8]) {
        match self {
            Self::ReplacePrefix(n) => {
                buffer.splice(..n, data.iter().copied());
            }
            Self::Append => buffer.extend_from_slice(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_follow_envoys_rules() {
        assert_eq!(read_range(10, 2, 3), Ok(2..5));
        assert_eq!(read_range(10, 8, usize::MAX), Ok(8..10));
        assert_eq!(read_range(10, 10, 1), Ok(10..10));
        assert_eq!(read_range(10, 11, 1), Err(Status::BadArgument));

        let write = |start, size, data: &[u8]| {
            let mut buffer = b"hello".to_vec();
            Write::of(buffer.len(), start, size).map(|w| {
                w.apply(&mut buffer, data);
                String::from_utf8(buffer).unwrap()
            })
        };
        assert_eq!(write(0, 5, b"bye").as_deref(), Ok("bye"));
        assert_eq!(write(0, 0, b">").as_deref(), Ok(">hello"));
        assert_eq!(write(0, 99, b"x").as_deref(), Ok("x"));
        assert_eq!(write(5, 0, b"!").as_deref(), Ok("hello!"));
        assert_eq!(write(9, 3, b"!").as_deref(), Ok("hello!"));
        assert_eq!(
            write(2, 1, b"L"),
            Err(Status::BadArgument),
            "no writes inside"
        );
    }
}
