fn main() -> std::process::ExitCode {
    self_harness::cli::main()
}
