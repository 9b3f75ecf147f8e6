//! DynamoDB stream images as your own types: the attribute maps of a record (`{"quantity":
//! {"N": "3"}}`) deserialized straight into `T` by serde_dynamo, the library aws_lambda_events
//! stores them with, with no detour through JSON text; errors name the record.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

/// Which attribute map of a stream record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// `Keys`: the item's key attributes, in every stream view type.
    Keys,
    /// `NewImage`: the item after the change (`NEW_IMAGE`, `NEW_AND_OLD_IMAGES`).
    New,
    /// `OldImage`: the item before the change (`OLD_IMAGE`, `NEW_AND_OLD_IMAGES`).
    Old,
}

impl std::fmt::Display for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Image::Keys => "Keys",
            Image::New => "NewImage",
            Image::Old => "OldImage",
        })
    }
}

/// Why a stream record's image is not a `T`.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The record has no such image: a `REMOVE` has no new image, an `INSERT` no old one, and
    /// the stream's view type may leave images out.
    #[error("DynamoDB stream record {record} ({event}) has no {image}")]
    Missing {
        /// The record's sequence number (its event id when it has none).
        record: String,
        /// `INSERT`, `MODIFY` or `REMOVE`.
        event: String,
        /// The image asked for.
        image: Image,
    },
    /// The image does not deserialize into the type asked for.
    #[error("DynamoDB stream record {record} ({event}): {image}: {source}")]
    Invalid {
        /// The record's sequence number (its event id when it has none).
        record: String,
        /// `INSERT`, `MODIFY` or `REMOVE`.
        event: String,
        /// The image asked for.
        image: Image,
        /// What serde_dynamo found wrong.
        #[source]
        source: serde_dynamo::Error,
    },
}

/// The record's `image` as a `T`.
///
/// ```
/// use aws_lambda_events::event::dynamodb::EventRecord;
/// use lamplight_batch::{Image, image};
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Order {
///     order_id: String,
///     quantity: u32,
/// }
///
/// let record: EventRecord = serde_json::from_value(serde_json::json!({
///     "eventID": "1", "eventName": "INSERT", "awsRegion": "us-east-1",
///     "dynamodb": {"SequenceNumber": "100", "SizeBytes": 40,
///                  "Keys": {"orderId": {"S": "o-1"}},
///                  "NewImage": {"orderId": {"S": "o-1"}, "quantity": {"N": "3"}}}
/// }))?;
/// let order: Order = image(&record, Image::New)?;
/// assert_eq!((order.order_id.as_str(), order.quantity), ("o-1", 3));
/// let missing = image::<Order>(&record, Image::Old).map(|_| ()).unwrap_err();
/// assert_eq!(missing.to_string(), "DynamoDB stream record 100 (INSERT) has no OldImage");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn image<T: DeserializeOwned>(record: &EventRecord, image: Image) -> Result<T, ImageError> {
    let item = match image {
        Image::Keys => &record.change.keys,
        Image::New => &record.change.new_image,
        Image::Old => &record.change.old_image,
    };
    let record_id = || {
        record
            .change
            .sequence_number
            .clone()
            .unwrap_or_else(|| record.event_id.clone())
    };
    if item.is_empty() {
        return Err(ImageError::Missing {
            record: record_id(),
            event: record.event_name.clone(),
            image,
        });
    }
    // serde_dynamo deserializes from an owned map; cloning it costs far less than rendering
    // and reparsing JSON.
    serde_dynamo::from_item(item.clone()).map_err(|source| ImageError::Invalid {
        record: record_id(),
        event: record.event_name.clone(),
        image,
        source,
    })
}

/// The record's new image as a `T`: what an `INSERT` or `MODIFY` wrote.
pub fn new_image<T: DeserializeOwned>(record: &EventRecord) -> Result<T, ImageError> {
    image(record, Image::New)
}

/// The record's old image as a `T`: what a `MODIFY` or `REMOVE` replaced.
pub fn old_image<T: DeserializeOwned>(record: &EventRecord) -> Result<T, ImageError> {
    image(record, Image::Old)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Order {
        order_id: String,
        item: String,
        quantity: u32,
        #[serde(default)]
        tags: BTreeSet<String>,
        #[serde(default)]
        gift: Option<bool>,
    }

    fn record(change: serde_json::Value) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": "e-1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "eventVersion": "1.1", "awsRegion": "us-east-1",
            "dynamodb": change,
        }))
        .expect("a stream record")
    }

    #[test]
    fn every_attribute_type_the_order_uses_is_read() {
        let record = record(json!({
            "SequenceNumber": "42", "SizeBytes": 90,
            "Keys": {"orderId": {"S": "o-1"}},
            "NewImage": {"orderId": {"S": "o-1"}, "item": {"S": "tea"}, "quantity": {"N": "3"},
                         "tags": {"SS": ["gift", "rush"]}, "gift": {"BOOL": true}},
            "OldImage": {"orderId": {"S": "o-1"}, "item": {"S": "tea"}, "quantity": {"N": "2"},
                         "gift": {"NULL": true}},
        }));
        let new: Order = new_image(&record).expect("new image");
        assert_eq!(new.quantity, 3);
        assert_eq!(new.tags, BTreeSet::from(["gift".into(), "rush".into()]));
        assert_eq!(new.gift, Some(true));
        let old: Order = old_image(&record).expect("old image");
        assert_eq!((old.quantity, old.gift), (2, None));

        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Key {
            order_id: String,
        }
        let key: Key = image(&record, Image::Keys).expect("keys");
        assert_eq!(key.order_id, "o-1");
    }

    #[test]
    fn errors_name_the_record_the_image_and_the_attribute() {
        let record = record(json!({
            "SequenceNumber": "42", "SizeBytes": 30,
            "NewImage": {"orderId": {"S": "o-1"}, "item": {"S": "tea"}, "quantity": {"S": "three"}},
        }));
        let error = new_image::<Order>(&record).expect_err("quantity is not a number");
        assert!(
            matches!(&error, ImageError::Invalid { record, image: Image::New, .. } if record == "42"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("DynamoDB stream record 42 (MODIFY): NewImage: "),
            "{error}"
        );

        let missing = old_image::<Order>(&record).expect_err("no old image");
        assert_eq!(
            missing.to_string(),
            "DynamoDB stream record 42 (MODIFY) has no OldImage"
        );
    }

    #[test]
    fn a_record_without_a_sequence_number_is_named_by_its_event_id() {
        let record = record(json!({"SizeBytes": 1, "NewImage": {"item": {"S": "tea"}}}));
        let error = new_image::<Order>(&record).expect_err("fields are missing");
        assert!(error.to_string().contains("record e-1 (MODIFY)"), "{error}");
    }
}
