//! `cargo xtask`: this repository's commands. Run `cargo xtask --help`.

fn main() -> std::process::ExitCode {
    xtask::main()
}
