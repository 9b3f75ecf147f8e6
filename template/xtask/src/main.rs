//! `cargo xtask`: build, run locally, invoke, deploy and trace this workspace's functions.
//! The commands live in the `lamplight-xtask` crate; upgrade it to get new ones.

fn main() -> std::process::ExitCode {
    lamplight_xtask::main()
}
