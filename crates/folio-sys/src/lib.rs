//! What Folio needs from the operating system beyond what its crates wrap: two calls,
//! [`start_writeback`] and [`keep_freed_buffers`]. `rustix` and `nix` have no
//! `sync_file_range` and no `mallopt`; this crate is the only place in the workspace allowed
//! `unsafe` blocks, and holds one for each.

use std::fs::File;

/// Memory blocks up to this size come from the heap, never from a mapping of their own.
pub const HEAP_BLOCKS_UP_TO: usize = 4 << 20;

/// Free memory the heap keeps for the next allocations before giving it back to the system.
pub const HEAP_KEEPS: usize = 8 << 20;

/// Makes glibc's `malloc` keep the memory of freed buffers for the next ones: blocks up to
/// [`HEAP_BLOCKS_UP_TO`] come from the heap, and up to [`HEAP_KEEPS`] of freed memory stays
/// there. Call it first thing in `main`, before any thread exists (`mallopt` is not safe to
/// call alongside other allocations).
///
/// Why: an upload's body arrives in buffers of a few hundred KiB that live until their bytes
/// are written. With glibc's adaptive defaults, most were mapped or taken from the system
/// fresh and returned when freed, so every buffer's pages were faulted in and zeroed again:
/// about a sixth of the server's CPU time during resumable uploads, and a resumable upload of
/// 256 MiB in 8 MiB PATCHes ran at 0.85 of the multipart rate instead of 1.05 (measured in
/// docs/benchmarks.md, "Resumable uploads"). Returns whether both settings took (always
/// `false` where the C library is not glibc, which has its own allocator policy).
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let as_int = |n: usize| libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
        // SAFETY: `mallopt` takes two integers and touches only the allocator's settings; the
        // caller runs it before other threads allocate (see above).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(HEAP_BLOCKS_UP_TO)) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(HEAP_KEEPS)) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Starts writing `file`'s dirty pages to the disk and returns without waiting for them.
///
/// It makes nothing durable (no metadata, no flush of the disk's cache): it only means that a
/// later `fdatasync` finds the data already on its way instead of starting it then. On Linux
/// this is `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`; elsewhere it does nothing.
pub fn start_writeback(file: &File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor belongs to `file`, which outlives the call; the call reads and
        // writes no memory of this process.
        let rc =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_written_file_starts_its_writeback_and_keeps_its_bytes() {
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(&[7u8; 1 << 20]).expect("write");
        start_writeback(&file).expect("writeback starts");
        file.sync_data().expect("and completes");
        assert_eq!(file.metadata().expect("metadata").len(), 1 << 20);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn buffers_of_a_few_mib_come_from_the_heap_once_set() {
        assert!(keep_freed_buffers(), "glibc took both settings");
        // glibc's default would map a block this large on its own (its first threshold is
        // 128 KiB); now it comes from the heap, and the mapped bytes do not grow.
        // SAFETY (both calls): `mallinfo2` only reads the allocator's counters.
        let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
        let before = mapped();
        let block = std::hint::black_box(vec![1u8; HEAP_BLOCKS_UP_TO / 2]);
        assert_eq!(mapped(), before, "a {} byte block was mapped", block.len());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_descriptor_that_is_no_file_is_an_error_not_a_crash() {
        // A character device: the kernel answers ESPIPE.
        let device = File::open("/dev/null").expect("open /dev/null");
        let err = start_writeback(&device).expect_err("refused");
        assert_eq!(err.raw_os_error(), Some(libc::ESPIPE), "{err}");
    }
}
