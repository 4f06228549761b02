//! Builds `sandbox-init` (init/) so `latchgate` can embed it
//! (src/sandbox/init_image.rs). It is always a static musl release build,
//! whatever profile builds latchgate, in its own target directory so the
//! two cargo invocations never wait on each other's lock.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=init/src");
    println!("cargo:rerun-if-changed=init/Cargo.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if target_os != "linux" {
        // No sandbox off Linux: embed nothing; the launcher says so.
        let empty = out.join("sandbox-init.empty");
        std::fs::write(&empty, b"").expect("write OUT_DIR");
        println!("cargo:rustc-env=LATCHGATE_SANDBOX_INIT={}", empty.display());
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"))
        .join("sandbox-init");
    let triple = format!("{arch}-unknown-linux-musl");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&manifest)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "sandbox-init",
            "--target",
        ])
        .arg(&triple)
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's per-package settings must not leak into this one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // Nor may profile overrides given to the outer build (for example
    // CARGO_PROFILE_RELEASE_DEBUG for a profiling build): sandbox-init is
    // always built by the workspace's release profile, stripped.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("CARGO_PROFILE_") {
            cmd.env_remove(var);
        }
    }
    cmd.env(
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
        "-C target-feature=+crt-static",
    )
    .env(
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
        "-C target-feature=+crt-static",
    );
    let status = cmd.status().expect("run cargo for sandbox-init");
    assert!(status.success(), "building sandbox-init (init/) failed");
    let bin = target_dir
        .join(&triple)
        .join("release")
        .join("sandbox-init");
    println!("cargo:rustc-env=LATCHGATE_SANDBOX_INIT={}", bin.display());
}
