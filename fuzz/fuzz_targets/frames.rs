//! Any bytes a peer could send: read frame by frame as the daemon reads them, each
//! body decoded as the daemon decodes requests. Nothing may panic, no frame may be
//! read past its limits, and a refusal quotes only a short excerpt.

#![no_main]

use std::sync::OnceLock;

use baton_daemon::server::transport::{self, Incoming};
use baton_protocol::framing;
use libfuzzer_sys::fuzz_target;

/// A small body limit keeps each run fast; the limit logic is the same at 64 MiB.
const BODY_LIMIT: usize = 64 * 1024;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fn check(body: &[u8]) {
    if let Incoming::Refused(response) = transport::decode(body) {
        let (_, answer) = response.into_parts();
        let message = answer.expect_err("a refusal is an error").message;
        assert!(message.len() < 400, "a refusal quotes {} bytes", message.len());
    }
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let mut input = data;
        while let Ok(Some(body)) = framing::read_frame(&mut input, BODY_LIMIT).await {
            assert!(body.len() <= BODY_LIMIT);
            check(&body);
        }
    });
    check(data);
});
