//! The `copydesk` command line: parses, wires the library, prints. See `cli`.

mod cli;

// The pipeline allocates and frees per-batch buffers on several threads at once; glibc's malloc
// spent ~10 % of a 200k-document run there (arena locks, trimming). The library leaves the
// allocator to the program that links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
