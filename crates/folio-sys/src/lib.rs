//! What Folio needs from the operating system beyond what its crates wrap: one call,
//! [`start_writeback`]. `rustix` and `nix` have no `sync_file_range`; this crate is the only
//! place in the workspace allowed an `unsafe` block, and holds exactly one.

use std::fs::File;

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
    #[cfg(target_os = "linux")]
    fn a_descriptor_that_is_no_file_is_an_error_not_a_crash() {
        // A character device: the kernel answers ESPIPE.
        let device = File::open("/dev/null").expect("open /dev/null");
        let err = start_writeback(&device).expect_err("refused");
        assert_eq!(err.raw_os_error(), Some(libc::ESPIPE), "{err}");
    }
}
