//! `lamplight-local`: the local Lambda service as a program, run by `cargo xtask local` and
//! `cargo xtask watch` (see `lamplight_local::serve` for what it reads on stdin).

use std::io::Write as _;

use tokio::io::BufReader;

#[tokio::main]
async fn main() {
    let status = match lamplight_local::serve::serve(BufReader::new(tokio::io::stdin())).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("lamplight-local: {e}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    // Exits here rather than returning: the runtime would wait for its thread blocked reading
    // stdin, which only `cargo xtask` closing its end would end.
    std::process::exit(status);
}
