//! Guest side of the LatchGate provider ABI, shared by every provider crate
//! through `#[path]` (the crates have no dependencies, so no shared crate).
//!
//! See ../README.md for the ABI. Memory model: a bump allocator that starts
//! at the end of the module's initial memory and only grows. A provider runs
//! once per fresh instance, so nothing is ever freed.
#![allow(dead_code)]

use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering};

/// WebAssembly page size.
const PAGE: usize = 65536;

/// Next free byte; 0 until the first allocation.
static NEXT: AtomicUsize = AtomicUsize::new(0);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    wasm32::unreachable()
}

/// Current linear memory size in bytes, or None past 4 GiB.
fn memory_bytes() -> Option<usize> {
    wasm32::memory_size(0).checked_mul(PAGE)
}

/// Reserves `len` bytes (8-byte aligned); None when memory cannot grow.
fn reserve(len: usize) -> Option<usize> {
    let mut next = NEXT.load(Ordering::Relaxed);
    if next == 0 {
        next = memory_bytes()?;
    }
    let start = next.checked_add(7)? & !7;
    let end = start.checked_add(len)?;
    let have = memory_bytes()?;
    if end > have {
        let pages = (end - have).div_ceil(PAGE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return None;
        }
    }
    NEXT.store(end, Ordering::Relaxed);
    Some(start)
}

/// ABI export: allocate `len` bytes for the host; 0 on failure.
#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    match reserve(len) {
        Some(ptr) => ptr as i32,
        None => 0,
    }
}

/// A fresh, zero-initialised region of `len` bytes (traps when out of memory).
fn region(len: usize) -> &'static mut [u8] {
    let Some(ptr) = reserve(len) else {
        wasm32::unreachable()
    };
    // SAFETY: [ptr, ptr+len) lies inside linear memory (reserve grew it) and
    // was handed out by the bump allocator exactly once, so nothing aliases it.
    unsafe { core::slice::from_raw_parts_mut(ptr as *mut u8, len) }
}

/// The bytes the host placed at (ptr, len) for `execute`.
pub fn input(ptr: i32, len: i32) -> &'static [u8] {
    let (Ok(ptr), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return &[];
    };
    // SAFETY: the host allocated this range with `alloc` and wrote the input
    // into it before calling `execute`; nothing else writes to it.
    unsafe { core::slice::from_raw_parts(ptr as *const u8, len) }
}

/// Packs a (ptr, len) pair the way `execute` and `http_request` return it.
pub fn pack(ptr: usize, len: usize) -> i64 {
    (((ptr as u64) << 32) | (len as u64 & 0xffff_ffff)) as i64
}

/// An output buffer of fixed capacity in guest memory.
pub struct Out {
    buf: &'static mut [u8],
    len: usize,
}

impl Out {
    /// A buffer holding exactly `cap` bytes.
    pub fn with_capacity(cap: usize) -> Out {
        Out {
            buf: region(cap),
            len: 0,
        }
    }

    /// Appends bytes; traps if the capacity was computed wrong.
    pub fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => dst.copy_from_slice(bytes),
            None => wasm32::unreachable(),
        }
        self.len = end;
    }

    /// The packed (ptr, len) of what was written.
    pub fn finish(self) -> i64 {
        pack(self.buf.as_ptr() as usize, self.len)
    }
}

/// Concatenates `parts` into a fresh output buffer and packs it.
pub fn output(parts: &[&[u8]]) -> i64 {
    let total = parts.iter().map(|p| p.len()).sum();
    let mut out = Out::with_capacity(total);
    for part in parts {
        out.push(part);
    }
    out.finish()
}

#[link(wasm_import_module = "latchgate")]
extern "C" {
    #[link_name = "http_request"]
    fn host_http_request(ptr: i32, len: i32) -> i64;
    #[link_name = "log"]
    fn host_log(level: i32, ptr: i32, len: i32);
}

/// Sends a request JSON to the host; returns the response JSON, which the
/// host wrote into memory it obtained from `alloc`.
pub fn http_request(request: &[u8]) -> &'static [u8] {
    // SAFETY: the host reads (ptr, len) from our memory and returns a range it
    // allocated through `alloc` and filled; it never writes anywhere else.
    let packed = unsafe { host_http_request(request.as_ptr() as i32, request.len() as i32) };
    let ptr = (packed as u64 >> 32) as usize;
    let len = (packed as u64 & 0xffff_ffff) as usize;
    // SAFETY: see above; the range is fresh allocator memory nobody aliases.
    unsafe { core::slice::from_raw_parts(ptr as *const u8, len) }
}

/// Log levels understood by the host.
pub const DEBUG: i32 = 0;
/// Informational message.
pub const INFO: i32 = 1;
/// Warning.
pub const WARN: i32 = 2;

/// Sends a UTF-8 log line to the host (which rate-limits and truncates).
pub fn log(level: i32, msg: &str) {
    // SAFETY: the host only reads (ptr, len) from our memory.
    unsafe { host_log(level, msg.as_ptr() as i32, msg.len() as i32) }
}
