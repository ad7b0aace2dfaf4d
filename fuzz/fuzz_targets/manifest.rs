//! Any input to the manifest parser gives a value or a located error — never a panic, a
//! hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odooops::odoo::manifest::{pylit, Manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pylit::parse(text);
        let _ = Manifest::parse(text, "fuzz");
    }
});
