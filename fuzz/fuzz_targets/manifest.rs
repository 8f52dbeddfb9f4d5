#![no_main]
// Thin wrapper: the harness lives in `tlsdoctor::fuzzing::manifest`, which the normal test
// suite also runs over this target's corpus (tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tlsdoctor::fuzzing::manifest(data));
