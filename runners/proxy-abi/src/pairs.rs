//! Proxy-Wasm header-map serialization (ABI v0.2.1 "Serialization", little-endian):
//! `u32 count`, then `count` × (`u32 key_len`, `u32 value_len`), then for each pair
//! `key bytes, 0x00, value bytes, 0x00`. An empty map is either zero bytes or a lone count of 0
//! (some SDKs also send a single 0x00 byte).

/// A header name or value: arbitrary bytes (HTTP allows non-UTF-8 values).
pub type Bytes = Vec<u8>;

/// Header pairs borrowed from a serialized map.
pub type PairRefs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Largest number of pairs accepted from a guest (the limit proxy-wasm-cpp-host uses).
pub const MAX_PAIRS: usize = 1024;
/// Largest serialized map accepted from a guest, in bytes (the limit proxy-wasm-cpp-host uses).
pub const MAX_SERIALIZED_BYTES: usize = 1 << 20;

/// Why a serialized map was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairsError {
    /// The buffer ends before the data its header promises.
    Truncated {
        /// Bytes the header implies.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A key or value is not followed by its 0x00 terminator.
    MissingTerminator {
        /// Index of the pair.
        index: usize,
    },
    /// More pairs or bytes than the host accepts.
    TooLarge {
        /// Declared pair count.
        pairs: usize,
        /// Buffer size.
        bytes: usize,
    },
}

impl std::fmt::Display for PairsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairsError::Truncated { needed, actual } => {
                write!(
                    f,
                    "serialized map is truncated: needs {needed} bytes, has {actual}"
                )
            }
            PairsError::MissingTerminator { index } => {
                write!(f, "serialized map entry {index} is not NUL-terminated")
            }
            PairsError::TooLarge { pairs, bytes } => write!(
                f,
                "serialized map too large: {pairs} pairs / {bytes} bytes (limits {MAX_PAIRS} / {MAX_SERIALIZED_BYTES})"
            ),
        }
    }
}

impl std::error::Error for PairsError {}

/// Serialized size in bytes of `pairs` (4 + 8 per pair + keys + values + 2 per pair).
pub fn serialized_size<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> usize {
    entries_size(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
}

/// Appends the serialized form of `pairs` to `out`.
pub fn serialize_into<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)], out: &mut Vec<u8>) {
    serialize_entries_into(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), out);
}

/// Serialized size in bytes of the (key, value) entries `entries` yields.
pub fn entries_size<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> usize {
    4 + entries.map(|(k, v)| 10 + k.len() + v.len()).sum::<usize>()
}

/// Appends the serialized form of the (key, value) entries `entries` yields to `out`, walking
/// them three times (size, lengths, bytes) instead of collecting them: no allocation once `out`
/// has the room.
pub fn serialize_entries_into<'a, I>(entries: I, out: &mut Vec<u8>)
where
    I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    out.reserve(entries_size(entries.clone()));
    let count = match entries.size_hint() {
        (lower, Some(upper)) if lower == upper => lower,
        _ => entries.clone().count(),
    };
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for (k, v) in entries.clone() {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in entries {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
}

/// Serializes `pairs` into a new buffer.
pub fn serialize<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    serialize_into(pairs, &mut out);
    out
}

/// Parses a serialized map, borrowing keys and values from `data`.
pub fn deserialize(data: &[u8]) -> Result<PairRefs<'_>, PairsError> {
    if data.len() <= 1 {
        // Zero bytes, or the lone 0x00 some SDKs send for an empty map.
        return if data.first().is_none_or(|b| *b == 0) {
            Ok(Vec::new())
        } else {
            Err(PairsError::Truncated {
                needed: 4,
                actual: data.len(),
            })
        };
    }
    if data.len() > MAX_SERIALIZED_BYTES {
        return Err(PairsError::TooLarge {
            pairs: 0,
            bytes: data.len(),
        });
    }
    let word = |at: usize| -> Result<usize, PairsError> {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(PairsError::Truncated {
                needed: at + 4,
                actual: data.len(),
            })
    };
    let count = word(0)?;
    if count > MAX_PAIRS {
        return Err(PairsError::TooLarge {
            pairs: count,
            bytes: data.len(),
        });
    }
    let header = 4 + count * 8;
    if header > data.len() {
        return Err(PairsError::Truncated {
            needed: header,
            actual: data.len(),
        });
    }
    let mut pairs = Vec::with_capacity(count);
    let mut at = header;
    for index in 0..count {
        let key_len = word(4 + index * 8)?;
        let value_len = word(8 + index * 8)?;
        let key = take_terminated(data, &mut at, key_len, index)?;
        let value = take_terminated(data, &mut at, value_len, index)?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn take_terminated<'a>(
    data: &'a [u8],
    at: &mut usize,
    len: usize,
    index: usize,
) -> Result<&'a [u8], PairsError> {
    let end = at
        .checked_add(len)
        .filter(|end| *end < data.len())
        .ok_or(PairsError::Truncated {
            needed: at.saturating_add(len).saturating_add(1),
            actual: data.len(),
        })?;
    if data[end] != 0 {
        return Err(PairsError::MissingTerminator { index });
    }
    let bytes = &data[*at..end];
    *at = end + 1;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_layout_matches_the_spec() {
        let bytes = serialize(&[("a", "1"), ("bc", "")]);
        let expected: Vec<u8> = [
            &2u32.to_le_bytes()[..],
            &1u32.to_le_bytes(),
            &1u32.to_le_bytes(),
            &2u32.to_le_bytes(),
            &0u32.to_le_bytes(),
            b"a\x001\x00",
            b"bc\x00\x00",
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(serialized_size(&[("a", "1"), ("bc", "")]), expected.len());
    }

    #[test]
    fn round_trips_empty_maps_empty_values_and_non_ascii_bytes() {
        let empty: [(&[u8], &[u8]); 0] = [];
        let cases: Vec<Vec<(&[u8], &[u8])>> = vec![
            empty.to_vec(),
            vec![(b"x-empty", b"")],
            vec![(b"", b"no-name")],
            vec![
                (b"caf\xc3\xa9", b"\xff\xfe\x80 bytes"),
                (b"k", b"v"),
                (b"k", b"v2"),
            ],
        ];
        for pairs in cases {
            let bytes = serialize(&pairs);
            assert_eq!(bytes.len(), serialized_size(&pairs));
            assert_eq!(deserialize(&bytes).unwrap(), pairs);
        }
    }

    #[test]
    fn accepts_the_short_empty_forms() {
        assert!(deserialize(&[]).unwrap().is_empty());
        assert!(deserialize(&[0]).unwrap().is_empty());
        assert!(deserialize(&0u32.to_le_bytes()).unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_maps() {
        let good = serialize(&[("key", "value")]);
        for cut in 2..good.len() {
            assert!(
                deserialize(&good[..cut]).is_err(),
                "truncated at {cut} accepted"
            );
        }
        let mut unterminated = good.clone();
        let last = unterminated.len() - 1;
        unterminated[last] = b'!';
        assert_eq!(
            deserialize(&unterminated),
            Err(PairsError::MissingTerminator { index: 0 })
        );
        let mut huge_count = good.clone();
        huge_count[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            deserialize(&huge_count),
            Err(PairsError::TooLarge { .. })
        ));
        let mut huge_len = good;
        huge_len[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            deserialize(&huge_len),
            Err(PairsError::Truncated { .. })
        ));
        assert!(deserialize(&[7]).is_err());
    }
}
