//! End-to-end tests of lamplight. The binaries in `src/bin` are real Lambda functions the tests
//! run under the local Lambda service: `testfn` on lamplight, `plainfn` on bare `lambda_runtime`.
