//! The moto helper starts a server that answers AWS calls and stops it on drop.

use std::net::TcpStream;

#[test]
fn moto_starts_answers_resets_and_stops() {
    let moto = lamplight_test::moto::Moto::start().expect("moto starts");
    let endpoint = moto.endpoint();
    let addr = endpoint.trim_start_matches("http://").to_string();
    assert!(
        moto.env()
            .iter()
            .any(|(k, v)| k == "AWS_ENDPOINT_URL" && *v == endpoint)
    );
    assert!(moto.reset(), "{}", moto.output());
    drop(moto);
    // Killed on drop: nothing listens there any more (give the kernel a moment).
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        TcpStream::connect(&addr).is_err(),
        "moto still listens on {addr}"
    );
}
