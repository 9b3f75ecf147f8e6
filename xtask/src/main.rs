//! `cargo xtask`: every command lives in the `lamplight-xtask` crate, shared with generated
//! function workspaces. Run `cargo xtask --help`.

fn main() -> std::process::ExitCode {
    lamplight_xtask::main()
}
