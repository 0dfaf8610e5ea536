//! The `self-harness` binary: everything is in the library; this only runs the command line.

fn main() -> std::process::ExitCode {
    self_harness::cli::main()
}
