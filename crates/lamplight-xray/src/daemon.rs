//! The X-Ray daemon's UDP protocol: one datagram per document, a JSON header line, then the
//! segment document.

/// The header line every datagram starts with, as the X-Ray SDKs send it.
pub const HEADER: &str = "{\"format\": \"json\", \"version\": 1}";

/// The largest datagram the daemon accepts.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers): a bigger datagram
/// cannot be sent at all, so this, not [`MAX_DATAGRAM`], bounds what a client sends.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// The largest segment document that fits one datagram with its header line.
pub const MAX_DOCUMENT: usize = MAX_UDP_PAYLOAD - HEADER.len() - 1;

/// The X-Ray daemon's address inside Lambda.
pub const LAMBDA_DAEMON_ADDRESS: &str = "169.254.79.129:2000";

/// Why a datagram was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// No newline separating header and document.
    #[error("no header line: a datagram is `{HEADER}` + newline + a segment document")]
    NoHeader,
    /// The header is not the daemon's JSON header.
    #[error("header `{0}` is not `{HEADER}`")]
    BadHeader(String),
    /// Header present but nothing after it.
    #[error("the datagram has a header but no segment document")]
    Empty,
}

/// Frames a segment document as one datagram.
pub fn encode(document: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::with_capacity(HEADER.len() + 1 + document.len());
    datagram.extend_from_slice(HEADER.as_bytes());
    datagram.push(b'\n');
    datagram.extend_from_slice(document);
    datagram
}

/// Frames a segment document as one datagram no bigger than [`MAX_UDP_PAYLOAD`], cutting the
/// document first when it would not fit ([`shrink`](crate::shrink::shrink)).
pub fn encode_fitting(
    document: &mut serde_json::Value,
) -> Result<(Vec<u8>, crate::shrink::Shrunk), crate::shrink::ShrinkError> {
    let shrunk = crate::shrink::shrink(document, MAX_DOCUMENT)?;
    let mut datagram = Vec::with_capacity(HEADER.len() + 1 + shrunk.bytes);
    datagram.extend_from_slice(HEADER.as_bytes());
    datagram.push(b'\n');
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut datagram, document);
    Ok((datagram, shrunk))
}

/// The segment document inside a datagram, after checking its header.
pub fn decode(datagram: &[u8]) -> Result<&[u8], DatagramError> {
    let newline = datagram
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(DatagramError::NoHeader)?;
    let (header, rest) = (&datagram[..newline], &datagram[newline + 1..]);
    let header_ok = serde_json::from_slice::<serde_json::Value>(header).is_ok_and(|h| {
        h.get("format").and_then(|f| f.as_str()) == Some("json")
            && h.get("version").and_then(|v| v.as_u64()) == Some(1)
    });
    if !header_ok {
        return Err(DatagramError::BadHeader(
            String::from_utf8_lossy(header).into_owned(),
        ));
    }
    if rest.iter().all(u8::is_ascii_whitespace) {
        return Err(DatagramError::Empty);
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_decode_round_trip() {
        let datagram = encode(b"{\"name\":\"x\"}");
        assert!(datagram.starts_with(b"{\"format\": \"json\", \"version\": 1}\n"));
        assert_eq!(decode(&datagram).expect("valid"), b"{\"name\":\"x\"}");
        // Header spacing is not significant.
        assert!(decode(b"{\"version\":1,\"format\":\"json\"}\n{}").is_ok());
    }

    #[test]
    fn bad_datagrams_are_rejected_with_the_expected_shape() {
        assert_eq!(decode(b"{}"), Err(DatagramError::NoHeader));
        assert!(matches!(
            decode(b"{\"format\":\"text\"}\n{}"),
            Err(DatagramError::BadHeader(_))
        ));
        assert_eq!(
            decode(b"{\"format\":\"json\",\"version\":1}\n  "),
            Err(DatagramError::Empty)
        );
    }
}
