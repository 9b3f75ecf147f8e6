//! X-Ray trace ids (`1-<8 hex epoch seconds>-<24 hex>`) and segment ids (16 hex).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a trace id or segment id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The trace id does not have the `1-<8 hex>-<24 hex>` shape.
    #[error(
        "invalid X-Ray trace id `{0}`: expected `1-<8 hex digits of epoch seconds>-<24 hex digits>`"
    )]
    TraceId(String),
    /// The segment id is not 16 lowercase hex digits.
    #[error("invalid X-Ray segment id `{0}`: expected 16 hex digits")]
    SegmentId(String),
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An X-Ray trace id: version `1`, the epoch second the trace started, 96 random bits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(String);

impl TraceId {
    /// A fresh trace id stamped with the current time.
    pub fn generate() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::generate_at(secs)
    }

    /// A fresh trace id stamped with `epoch_secs` (truncated to 32 bits, as X-Ray does).
    pub fn generate_at(epoch_secs: u64) -> Self {
        let random: u128 = fastrand::u128(..) & ((1u128 << 96) - 1);
        Self(format!("1-{:08x}-{random:024x}", epoch_secs as u32))
    }

    /// The epoch second encoded in the id.
    pub fn epoch_secs(&self) -> u32 {
        // Validated at construction, so the slice is 8 hex digits.
        u32::from_str_radix(&self.0[2..10], 16).unwrap_or_default()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TraceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('-');
        let ok = parts.next() == Some("1")
            && parts.next().is_some_and(|t| is_hex(t, 8))
            && parts.next().is_some_and(|r| is_hex(r, 24))
            && parts.next().is_none();
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(IdError::TraceId(s.to_owned()))
        }
    }
}

/// A segment or subsegment id: 64 random bits as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(u64);

impl SegmentId {
    /// A fresh random, non-zero segment id.
    pub fn generate() -> Self {
        Self(fastrand::u64(1..))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<u64> for SegmentId {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

impl FromStr for SegmentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_hex(s, 16) {
            u64::from_str_radix(s, 16)
                .map(Self)
                .map_err(|_| IdError::SegmentId(s.to_owned()))
        } else {
            Err(IdError::SegmentId(s.to_owned()))
        }
    }
}

macro_rules! text_id {
    ($ty:ty, $fmt:literal, $field:tt) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $fmt, self.$field)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(\"{}\")", stringify!($ty), self)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_id!(TraceId, "{}", 0);
text_id!(SegmentId, "{:016x}", 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_trace_ids_parse_back_and_carry_their_time() {
        let id = TraceId::generate_at(0x5759_e988);
        assert!(id.as_str().starts_with("1-5759e988-"), "{id}");
        assert_eq!(id.as_str().len(), 35);
        assert_eq!(id.as_str().parse::<TraceId>().expect("valid"), id);
        assert_eq!(id.epoch_secs(), 0x5759_e988);
    }

    #[test]
    fn trace_ids_of_the_wrong_shape_are_rejected_with_the_expected_form() {
        for bad in [
            "",
            "1-5759e988",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759e98-bd862e3fe1be46a994272793",
            "1-5759e988-bd862e3fe1be46a99427279z",
            "1-5759e988-bd862e3fe1be46a994272793-00",
        ] {
            let err = bad.parse::<TraceId>().expect_err(bad);
            assert!(err.to_string().contains("expected `1-<8 hex"), "{err}");
        }
    }

    #[test]
    fn segment_ids_round_trip_as_sixteen_hex_digits() {
        let id: SegmentId = "53995c3f42cd8ad8".parse().expect("valid");
        assert_eq!(id.to_string(), "53995c3f42cd8ad8");
        assert_eq!(SegmentId::from(1).to_string(), "0000000000000001");
        assert!("53995c3f42cd8ad".parse::<SegmentId>().is_err());
        assert!("53995c3f42cd8adx".parse::<SegmentId>().is_err());
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "\"53995c3f42cd8ad8\"");
    }
}
