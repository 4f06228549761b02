//! The `latchgate` binary: argument parsing lives in the library.

/// mimalloc instead of musl's single-lock malloc; see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(latchgate::cli::main());
}
