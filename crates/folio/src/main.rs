fn main() -> std::process::ExitCode {
    // Before any thread: the allocator's settings (see folio_sys::keep_freed_buffers).
    folio_sys::keep_freed_buffers();
    folio::cli::main()
}
