//! Compile-time behaviour of `#[traced_function]`: what compiles, and the exact message of
//! every misuse (each `tests/ui/fail/*.rs` is pinned by its `.stderr`).
//!
//! Regenerate the expected output after an intended change with
//! `TRYBUILD=overwrite cargo test --test ui`, then read every changed `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
