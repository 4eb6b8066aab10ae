//! S3: the bucket, key, copy source, upload id and part number an operation names
//! (`span.aws.s3.client` in `model/aws/sdk-spans.yaml`, every one `recommended`). Left out:
//! `aws.s3.delete`, the list of every key a `DeleteObjects` removes.

use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadInput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadInput;
use aws_sdk_s3::operation::copy_object::CopyObjectInput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadInput;
use aws_sdk_s3::operation::delete_object::DeleteObjectInput;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsInput;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectInput};
use aws_sdk_s3::operation::get_object_attributes::GetObjectAttributesInput;
use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketInput};
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectInput};
use aws_sdk_s3::operation::list_objects::ListObjectsInput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Input;
use aws_sdk_s3::operation::list_parts::ListPartsInput;
use aws_sdk_s3::operation::put_object::PutObjectInput;
use aws_sdk_s3::operation::upload_part::UploadPartInput;
use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyInput;
use aws_smithy_runtime_api::client::interceptors::context::{Error as OperationError, Input};
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    AWS_S3_BUCKET, AWS_S3_COPY_SOURCE, AWS_S3_KEY, AWS_S3_PART_NUMBER, AWS_S3_UPLOAD_ID,
};

use super::SpanShape;
use crate::redact::bounded;

/// What an S3 request names.
#[derive(Default)]
struct Target<'a> {
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    copy_source: Option<&'a str>,
    upload_id: Option<&'a str>,
    part_number: Option<i32>,
}

/// The target of the first listed input type `input` is, from the fields listed with it.
macro_rules! target {
    ($input:expr; $($ty:ty { $($field:ident),* }),+ $(,)?) => {{
        let input: &Input = $input;
        None
        $(.or_else(|| {
            let request = input.downcast_ref::<$ty>()?;
            Some(Target {
                bucket: request.bucket.as_deref(),
                $($field: Field::get(&request.$field),)*
                ..Target::default()
            })
        }))+
    }};
}

// `UploadPartCopyInput` names every field, so one struct update of `target!` is idle.
#[allow(clippy::needless_update)]
pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    let target: Option<Target<'_>> = target!(input;
        GetObjectInput { key, part_number },
        PutObjectInput { key },
        HeadObjectInput { key, part_number },
        DeleteObjectInput { key },
        CopyObjectInput { key, copy_source },
        CreateMultipartUploadInput { key },
        UploadPartInput { key, upload_id, part_number },
        UploadPartCopyInput { key, upload_id, part_number, copy_source },
        CompleteMultipartUploadInput { key, upload_id },
        AbortMultipartUploadInput { key, upload_id },
        ListPartsInput { key, upload_id },
        GetObjectAttributesInput { key },
        ListObjectsV2Input {},
        ListObjectsInput {},
        HeadBucketInput {},
        DeleteObjectsInput {},
    );
    let Some(target) = target else {
        return;
    };
    let attributes = &mut shape.attributes;
    for (key, value) in [
        (AWS_S3_BUCKET, target.bucket),
        (AWS_S3_KEY, target.key),
        (AWS_S3_COPY_SOURCE, target.copy_source),
        (AWS_S3_UPLOAD_ID, target.upload_id),
    ] {
        if let Some(value) = value {
            attributes.push(KeyValue::new(key, bounded(value, limit)));
        }
    }
    if let Some(part) = target.part_number {
        attributes.push(KeyValue::new(AWS_S3_PART_NUMBER, i64::from(part)));
    }
}

/// A request field as the target holds it.
trait Field<'a> {
    type Value;
    fn get(&'a self) -> Self::Value;
}

impl<'a> Field<'a> for Option<String> {
    type Value = Option<&'a str>;
    fn get(&'a self) -> Option<&'a str> {
        self.as_deref()
    }
}

impl<'a> Field<'a> for Option<i32> {
    type Value = Option<i32>;
    fn get(&'a self) -> Option<i32> {
        *self
    }
}

/// The SDK's code of the errors it makes without a body to read (a `HEAD`'s `NotFound`).
pub(super) fn error_code(error: &OperationError) -> Option<String> {
    super::sdk_code!(error; HeadObjectError, HeadBucketError, GetObjectError)
}
