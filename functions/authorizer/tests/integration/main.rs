//! The authorizer's one integration-test binary: REQUEST authorizer events against DynamoDB Local and moto.

mod authorizer;
