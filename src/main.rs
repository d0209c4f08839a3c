//! The `lbip` binary: one executable, four faces. All it does is pick the face.
fn main() -> std::process::ExitCode {
    lbip::faces::main()
}
