//! The `copydesk` command line: parses, wires the library, prints. See `cli`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
