//! Two streaming functions over one worker: `stream` (InvokeWithResponseStream: the event
//! `{"chunks": N, "interval_ms": M}`) and `http-stream` (a Function URL: `GET /lines?chunks=N&interval_ms=M`).

pub mod worker;
