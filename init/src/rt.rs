//! Runtime glue for a `no_std` binary on musl: link libc, the panic
//! handler, and a heap that is musl's malloc/free.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use crate::sys;

// Without std nothing else links musl's libc (crt1.o needs __libc_start_main).
#[link(name = "c", kind = "static")]
extern "C" {}

/// Nothing here is meant to panic; if something does anyway, fail closed:
/// before the agent runs that is exit 125, after it PID 1 exiting tears the
/// whole sandbox down.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::write_all(
        2,
        b"sandbox-init: internal error (a bug: please report it)\n",
    );
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(sys::EXIT_SETUP) }
}

/// The heap: musl's malloc (16-byte aligned on 64-bit targets),
/// posix_memalign for anything asking more.
struct Malloc;

/// Alignment musl's malloc guarantees on the 64-bit targets we build for.
const MALLOC_ALIGN: usize = 16;

// SAFETY: malloc/posix_memalign return memory that is unaliased, at least
// `size` bytes and aligned as asked (or NULL, which GlobalAlloc allows);
// free takes exactly those pointers back.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: plain malloc call; NULL is passed back as failure.
            return unsafe { libc::malloc(layout.size()) }.cast();
        }
        let mut p: *mut c_void = core::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; the alignment is a power of
        // two (Layout guarantees it) and a multiple of sizeof(void *).
        if unsafe { libc::posix_memalign(&mut p, layout.align(), layout.size()) } != 0 {
            return core::ptr::null_mut();
        }
        p.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from malloc or posix_memalign above.
        unsafe { libc::free(ptr.cast()) }
    }
}

#[global_allocator]
static HEAP: Malloc = Malloc;
