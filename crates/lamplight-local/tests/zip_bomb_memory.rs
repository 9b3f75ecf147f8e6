//! A zip bomb's upload costs the service little memory: entries are streamed to disk and
//! counted, not inflated into memory. Alone in its test binary, so the process's peak resident
//! size is this test's.

mod support;

use std::io::Write as _;

use lamplight_local::LocalLambda;

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_upload_does_not_inflate_into_memory() {
    let service = LocalLambda::builder()
        .start()
        .await
        .expect("service starts");
    // 240 MB of zeros (under the limit, so every byte is inflated) in a few hundred KB.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut one = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    one.start_file("zeros", options).expect("start");
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..60 {
        one.write_all(&chunk).expect("write");
    }
    drop(chunk);
    let one = one.finish().expect("finish").into_inner();
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(one)).expect("read back");
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("bootstrap", options.unix_permissions(0o755))
        .expect("start");
    writer.write_all(support::SCRIPT).expect("write");
    for i in 0..4 {
        let entry = source.by_index_raw(0).expect("entry");
        writer
            .raw_copy_file_rename(entry, format!("zeros{i}"))
            .expect("copy");
    }
    let bomb = writer.finish().expect("finish").into_inner();
    // Forget the building's peak (Linux: writing 5 to clear_refs resets VmHWM).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_kib();
    let reply = support::create(&service, "inflated", &bomb).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let unpacked: u64 = support::files(service.work_dir())
        .iter()
        .map(|p| std::fs::metadata(service.work_dir().join(p)).map_or(0, |m| m.len()))
        .sum();
    assert!(unpacked > 240_000_000, "{unpacked} bytes unpacked");
    let grown_mib = peak_kib().saturating_sub(before) / 1024;
    eprintln!(
        "peak RSS {} MiB before the upload, grew by {grown_mib} MiB (VmHWM reset: {reset})",
        before / 1024
    );
    assert!(
        grown_mib < 64,
        "unpacking {unpacked} bytes grew the peak RSS by {grown_mib} MiB"
    );
}
