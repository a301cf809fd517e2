//! Guest memory as the hostcalls see it: a wasm32 linear memory (every access bounds-checked)
//! or, for native filters, the process address space (trusted code, 64-bit pointers).

use crate::abi::Status;

/// A view of the calling module's memory for the duration of one hostcall.
pub struct GuestMemory<'a> {
    repr: Repr<'a>,
}

enum Repr<'a> {
    /// A wasm32 linear memory: addresses are offsets, pointers are 4 bytes.
    Wasm32(&'a mut [u8]),
    /// The native process: addresses are real pointers, pointers are 8 bytes.
    Native,
}

/// Result of a memory access: `Err(Status::InvalidMemoryAccess)` when out of bounds.
pub type MemResult<T> = Result<T, Status>;

impl<'a> GuestMemory<'a> {
    /// A wasm32 linear memory.
    pub fn wasm32(bytes: &'a mut [u8]) -> Self {
        Self {
            repr: Repr::Wasm32(bytes),
        }
    }

    /// The native address space.
    ///
    /// # Safety
    /// Every address the guest passes must be valid for the access the hostcall makes: native
    /// filters are trusted code running in this process, exactly like Envoy's null VM.
    pub unsafe fn native() -> Self {
        Self { repr: Repr::Native }
    }

    /// Size of a guest pointer in bytes (4 for wasm32, 8 for native).
    pub fn pointer_size(&self) -> usize {
        match self.repr {
            Repr::Wasm32(_) => 4,
            Repr::Native => 8,
        }
    }

    /// Borrows `len` bytes at `ptr`.
    pub fn read(&self, ptr: u64, len: u64) -> MemResult<&[u8]> {
        match &self.repr {
            Repr::Wasm32(mem) => {
                let range = checked_range(ptr, len, mem.len())?;
                Ok(&mem[range])
            }
            Repr::Native => {
                if len == 0 {
                    return Ok(&[]);
                }
                if ptr == 0 || ptr.checked_add(len).is_none() || len > isize::MAX as u64 {
                    return Err(Status::InvalidMemoryAccess);
                }
                // SAFETY: native guests are trusted (see `native`); null and overflow are rejected.
                Ok(unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) })
            }
        }
    }

    /// Copies `data` to `ptr`.
    pub fn write(&mut self, ptr: u64, data: &[u8]) -> MemResult<()> {
        match &mut self.repr {
            Repr::Wasm32(mem) => {
                let range = checked_range(ptr, data.len() as u64, mem.len())?;
                mem[range].copy_from_slice(data);
                Ok(())
            }
            Repr::Native => {
                if data.is_empty() {
                    return Ok(());
                }
                if ptr == 0 || ptr.checked_add(data.len() as u64).is_none() {
                    return Err(Status::InvalidMemoryAccess);
                }
                // SAFETY: native guests are trusted (see `native`); null and overflow are rejected.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        data.as_ptr(),
                        ptr as usize as *mut u8,
                        data.len(),
                    )
                };
                Ok(())
            }
        }
    }

    /// Writes a little-endian `u32` at `ptr`.
    pub fn write_u32(&mut self, ptr: u64, value: u32) -> MemResult<()> {
        self.write(ptr, &value.to_le_bytes())
    }

    /// Writes a little-endian `u64` at `ptr`.
    pub fn write_u64(&mut self, ptr: u64, value: u64) -> MemResult<()> {
        self.write(ptr, &value.to_le_bytes())
    }

    /// Writes a pointer- or size-sized value (4 bytes on wasm32, 8 on native) at `ptr`.
    pub fn write_word(&mut self, ptr: u64, value: u64) -> MemResult<()> {
        match self.repr {
            Repr::Wasm32(_) => {
                let value = u32::try_from(value).map_err(|_| Status::InvalidMemoryAccess)?;
                self.write_u32(ptr, value)
            }
            Repr::Native => self.write_u64(ptr, value),
        }
    }

    /// Reads a pointer- or size-sized value (4 bytes on wasm32, 8 on native) at `ptr`.
    pub fn read_word(&self, ptr: u64) -> MemResult<u64> {
        let bytes = self.read(ptr, self.pointer_size() as u64)?;
        Ok(match bytes.len() {
            4 => u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as u64,
            _ => u64::from_le_bytes(bytes.try_into().expect("8 bytes")),
        })
    }
}

fn checked_range(ptr: u64, len: u64, mem_len: usize) -> MemResult<std::ops::Range<usize>> {
    let end = ptr.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    if end > mem_len as u64 {
        return Err(Status::InvalidMemoryAccess);
    }
    Ok(ptr as usize..end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm32_accesses_are_bounds_checked() {
        let mut bytes = vec![0u8; 16];
        let mut mem = GuestMemory::wasm32(&mut bytes);
        assert_eq!(mem.pointer_size(), 4);
        mem.write(12, b"abcd").unwrap();
        assert_eq!(mem.read(12, 4).unwrap(), b"abcd");
        assert_eq!(mem.read(16, 0).unwrap(), b"");
        assert_eq!(mem.read(13, 4), Err(Status::InvalidMemoryAccess));
        assert_eq!(mem.read(u64::MAX, 2), Err(Status::InvalidMemoryAccess));
        assert_eq!(mem.write(15, b"xy"), Err(Status::InvalidMemoryAccess));
        assert_eq!(mem.write_word(0, 1 << 40), Err(Status::InvalidMemoryAccess));
        mem.write_word(4, 0xdead_beef).unwrap();
        assert_eq!(mem.read_word(4).unwrap(), 0xdead_beef);
    }

    #[test]
    fn native_accesses_use_real_pointers() {
        let mut buf = [0u8; 16];
        let base = buf.as_mut_ptr() as u64;
        {
            // SAFETY: every address used below lies inside `buf`.
            let mut mem = unsafe { GuestMemory::native() };
            assert_eq!(mem.pointer_size(), 8);
            mem.write_word(base, 42).unwrap();
            assert_eq!(mem.read_word(base).unwrap(), 42);
            assert_eq!(mem.read(0, 4), Err(Status::InvalidMemoryAccess));
            assert_eq!(mem.read(0, 0).unwrap(), b"");
        }
        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), 42);
    }
}
