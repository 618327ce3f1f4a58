//! The files function's one integration-test binary: uploads through real presigned URLs to
//! moto's S3, their checks, the public bytes, and QR codes decoded back, on REST v1 events against
//! DynamoDB Local and moto.

mod files;
mod preview;
mod qr;
