//! The `latchgate` binary: argument parsing lives in the library.

fn main() {
    std::process::exit(latchgate::cli::main());
}
