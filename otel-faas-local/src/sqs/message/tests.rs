use super::*;

#[test]
fn body_digest_is_the_md5_of_the_body() {
    let message = message("Test message.");
    // The record of AWS's sample SQS event for Lambda.
    assert_eq!(message.md5_of_body(), "e4e68fb7bd0e697a0ae8f1bb342846b3");
    assert_eq!(message.md5_of_message_attributes(), None);
}

#[test]
fn attribute_digest_follows_the_sqs_encoding() {
    let mut attributes = BTreeMap::new();
    attributes.insert("tenant".to_owned(), MessageAttribute::string("acme"));
    // name, data type, transport 1, value: each with its length as 4 bytes, big endian.
    let mut encoded = Vec::new();
    for part in [&b"tenant"[..], b"String"] {
        encoded.extend_from_slice(&(part.len() as u32).to_be_bytes());
        encoded.extend_from_slice(part);
    }
    encoded.push(1);
    encoded.extend_from_slice(&4_u32.to_be_bytes());
    encoded.extend_from_slice(b"acme");
    assert_eq!(
        md5_of_attributes(&attributes).as_deref(),
        Some(hex(&Md5::digest(&encoded)).as_str())
    );
}

#[test]
fn binary_attributes_digest_their_bytes_with_transport_type_2() {
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "image".to_owned(),
        MessageAttribute {
            data_type: "Binary.png".to_owned(),
            string_value: None,
            binary_value: Some(vec![1, 2, 3]),
        },
    );
    let mut encoded = Vec::new();
    for part in [&b"image"[..], b"Binary.png"] {
        encoded.extend_from_slice(&(part.len() as u32).to_be_bytes());
        encoded.extend_from_slice(part);
    }
    encoded.push(2);
    encoded.extend_from_slice(&3_u32.to_be_bytes());
    encoded.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        md5_of_attributes(&attributes).as_deref(),
        Some(hex(&Md5::digest(&encoded)).as_str())
    );
}

fn message(body: &str) -> QueuedMessage {
    QueuedMessage {
        message_id: "m-1".to_owned(),
        body: body.to_owned(),
        message_attributes: BTreeMap::new(),
        system_attributes: BTreeMap::new(),
        sent_at: UNIX_EPOCH,
        receive_count: 0,
        first_received_at: None,
    }
}
