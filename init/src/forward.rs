//! The loopback forwarder: 127.0.0.1:PORT <-> the proxy's Unix socket.
//!
//! A transparent byte relay: no parsing, no policy (the proxy on the host
//! side is the one enforcement point). It runs as threads of init, so it
//! sits in init's Landlock domain and seccomp filter and is non-dumpable;
//! the agent (a nested Landlock domain with the signal scope) can neither
//! signal nor ptrace it.
//!
//! Blocking I/O with one thread per direction, never epoll/poll: on WSL2,
//! epoll after fork in a new network namespace never wakes.

use alloc::boxed::Box;
use core::ffi::{c_int, c_void, CStr};
use core::mem::size_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// At most this many relayed connections at once; more are closed at once.
const MAX_LIVE: usize = 256;
/// Connections being relayed now.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Stack of every forwarder thread.
const STACK_SIZE: usize = 64 * 1024;
/// Copy buffer, per direction (on that thread's stack).
const BUF_SIZE: usize = 16 * 1024;

/// Step 4: binds and listens on 127.0.0.1:`port` now, before Landlock
/// denies bind. Returns the listening socket or exits 125.
pub fn listen(port: u16) -> c_int {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        sys::die_errno(&[&"forwarder: socket(AF_INET)"], sys::errno(), "");
    }
    let on: c_int = 1;
    // SAFETY: SO_REUSEADDR takes an int; pointer and size describe `on`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const c_int).cast(),
            size_of::<c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        sys::die_errno(&[&"forwarder: setsockopt(SO_REUSEADDR)"], sys::errno(), "");
    }

    // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
    let mut addr: libc::sockaddr_in = unsafe { core::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = port.to_be();
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    // SAFETY: pointer and size describe `addr`, a sockaddr_in.
    let r = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r != 0 {
        let port = u64::from(port);
        sys::die_errno(
            &[&"forwarder: bind 127.0.0.1:", &port],
            sys::errno(),
            "is the network namespace private and lo up?",
        );
    }
    // SAFETY: plain listen(2) call on our socket.
    if unsafe { libc::listen(fd, 128) } != 0 {
        sys::die_errno(&[&"forwarder: listen"], sys::errno(), "");
    }
    fd
}

/// Step 4: the proxy socket must exist and be a socket, and its path must
/// fit a sockaddr_un. Returns the address to connect to, or exits 125.
pub fn proxy_address(path: &CStr) -> libc::sockaddr_un {
    // SAFETY: stat is plain old data; all zeroes is valid.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated, `st` is a valid out-pointer.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } != 0 {
        sys::die_errno(
            &[&"proxy socket ", &path],
            sys::errno(),
            "the launcher must bind-mount the proxy socket there",
        );
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        sys::die(&[&"proxy socket ", &path], &[&"not a socket"], "");
    }

    // SAFETY: sockaddr_un is plain old data; all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.to_bytes();
    // Strictly shorter than sun_path: the zeroed tail keeps it NUL-terminated.
    if bytes.len() >= addr.sun_path.len() {
        sys::die(
            &[&"proxy socket ", &path],
            &[&"path too long for a Unix socket"],
            "",
        );
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    addr
}

/// What the accept thread owns for good.
struct Acceptor {
    listener: c_int,
    proxy: libc::sockaddr_un,
}

/// Step 4: asks for SIGIO to init when the first connection reaches
/// `listener` (O_ASYNC; init takes SIGIO with sigwaitinfo), so the accept
/// thread starts only for an agent that uses the network: a thread start
/// and its teardown cost a sandbox that never does two context switches.
/// Connections wait in the backlog meanwhile. Exits 125 on failure.
pub fn signal_first_connection(listener: c_int) {
    // SAFETY: fcntl on our own socket with integer arguments.
    let ok = unsafe {
        let flags = libc::fcntl(listener, libc::F_GETFL);
        flags >= 0
            && libc::fcntl(listener, libc::F_SETOWN, libc::getpid()) == 0
            && libc::fcntl(listener, libc::F_SETFL, flags | libc::O_ASYNC) == 0
    };
    if !ok {
        sys::die_errno(&[&"forwarder: fcntl(O_ASYNC)"], sys::errno(), "");
    }
}

/// Step 12, at the first SIGIO: no more signals, and the accept thread.
/// Err(error number) if it could not start.
pub fn start_at_first_connection(listener: c_int, proxy: libc::sockaddr_un) -> Result<(), c_int> {
    // SAFETY: fcntl on our own socket with integer arguments.
    let r = unsafe {
        let flags = libc::fcntl(listener, libc::F_GETFL);
        if flags < 0 {
            flags
        } else {
            libc::fcntl(listener, libc::F_SETFL, flags & !libc::O_ASYNC)
        }
    };
    if r < 0 {
        return Err(sys::errno());
    }
    start(listener, proxy)
}

/// Starts the accept thread. Err(error number) if it could not.
fn start(listener: c_int, proxy: libc::sockaddr_un) -> Result<(), c_int> {
    let acceptor = Box::into_raw(Box::new(Acceptor { listener, proxy }));
    spawn(accept_loop, acceptor.cast()).inspect_err(|_| {
        // SAFETY: the thread did not start, so the box is still ours alone.
        drop(unsafe { Box::from_raw(acceptor) });
    })
}

/// The accept thread: one relay per connection, forever.
extern "C" fn accept_loop(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box<Acceptor> that start() handed to this
    // thread alone.
    let acceptor = unsafe { Box::from_raw(arg.cast::<Acceptor>()) };
    loop {
        // SAFETY: accepting on our listening socket; the peer address is
        // not wanted (NULL, NULL).
        let client = unsafe {
            libc::accept4(
                acceptor.listener,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if client < 0 {
            match sys::errno() {
                // The listener itself is unusable: nothing will ever work.
                e @ (libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EFAULT) => {
                    sys::warn_errno(&[&"forwarder: accept (forwarder stopped)"], e);
                    return core::ptr::null_mut();
                }
                // Out of descriptors or memory: the connection stays queued,
                // so wait a little instead of spinning on it.
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => pause_briefly(),
                // EINTR, ECONNABORTED and network errors of that one
                // connection (accept(2) says: retry).
                _ => {}
            }
            continue;
        }
        if LIVE.fetch_add(1, Ordering::AcqRel) >= MAX_LIVE {
            LIVE.fetch_sub(1, Ordering::AcqRel);
            sys::close(client);
            continue;
        }
        relay(client, &acceptor.proxy);
    }
}

/// One connection: both sockets, shared by the two copy threads; the last
/// one to finish closes both (see [`release`]).
struct Conn {
    client: c_int,
    upstream: c_int,
    refs: AtomicUsize,
}

/// Connects `client` to the proxy and starts one copy thread per direction.
/// `client` counts in LIVE already; every path here either hands it to the
/// threads or closes it and takes it off.
fn relay(client: c_int, proxy: &libc::sockaddr_un) {
    let on: c_int = 1;
    // Latency only: a failure here is harmless, so it is not checked.
    // SAFETY: TCP_NODELAY takes an int; pointer and size describe `on`.
    unsafe {
        libc::setsockopt(
            client,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const c_int).cast(),
            size_of::<c_int>() as libc::socklen_t,
        )
    };

    // SAFETY: plain socket(2) call.
    let upstream =
        unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if upstream < 0 {
        sys::warn_errno(&[&"forwarder: socket(AF_UNIX)"], sys::errno());
        sys::close(client);
        LIVE.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    // SAFETY: pointer and size describe `proxy`, a NUL-terminated sockaddr_un.
    let r = unsafe {
        libc::connect(
            upstream,
            (proxy as *const libc::sockaddr_un).cast(),
            size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if r != 0 {
        sys::warn_errno(&[&"forwarder: connect to the proxy socket"], sys::errno());
        sys::close(upstream);
        sys::close(client);
        LIVE.fetch_sub(1, Ordering::AcqRel);
        return;
    }

    let conn = Box::into_raw(Box::new(Conn {
        client,
        upstream,
        refs: AtomicUsize::new(2),
    }));
    if spawn(client_to_proxy, conn.cast()).is_err() {
        // Neither thread runs: drop both references ourselves.
        release(conn);
        release(conn);
        return;
    }
    if spawn(proxy_to_client, conn.cast()).is_err() {
        // Wake the running thread so it ends, then drop this one's reference.
        shutdown(client, libc::SHUT_RDWR);
        shutdown(upstream, libc::SHUT_RDWR);
        release(conn);
    }
}

/// Copy thread: agent -> proxy.
extern "C" fn client_to_proxy(arg: *mut c_void) -> *mut c_void {
    let conn = arg.cast::<Conn>();
    // SAFETY: `conn` stays alive while this thread holds its reference,
    // which it gives up only in release() below.
    let (from, to) = unsafe { ((*conn).client, (*conn).upstream) };
    copy(from, to, false);
    release(conn);
    core::ptr::null_mut()
}

/// Copy thread: proxy -> agent. A proxy that closes without sending a
/// single byte has refused the request (a denied CONNECT): the agent then
/// gets a TCP reset, not a clean end of stream.
extern "C" fn proxy_to_client(arg: *mut c_void) -> *mut c_void {
    let conn = arg.cast::<Conn>();
    // SAFETY: as in client_to_proxy.
    let (from, to) = unsafe { ((*conn).upstream, (*conn).client) };
    if copy(from, to, true) == Copied::Nothing {
        reset_on_close(to);
        // Wakes the other direction's read (end of file) without a FIN; the
        // last release() then closes `to` with linger 0: a reset.
        shutdown(to, libc::SHUT_RD);
    }
    release(conn);
    core::ptr::null_mut()
}

/// What a copy moved before it ended.
#[derive(PartialEq)]
enum Copied {
    /// Clean end of file before any byte (only when asked to notice).
    Nothing,
    /// Anything else.
    Done,
}

/// SO_LINGER {on, 0}: close(2) then sends a reset instead of a FIN.
fn reset_on_close(fd: c_int) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: pointer and size describe `linger`; a failure only means a
    // FIN instead of a reset.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// Copies `from` to `to` until end of file or an error. End of file is
/// passed on as a half-close (shutdown(to, SHUT_WR)); on an error both
/// sockets are shut down completely, which also ends the other direction.
/// With `notice_silence`, an end of file before any byte is left to the
/// caller (`Copied::Nothing`).
fn copy(from: c_int, to: c_int, notice_silence: bool) -> Copied {
    let mut buf = [0u8; BUF_SIZE];
    let mut moved = false;
    let clean = loop {
        // SAFETY: the pointer and length describe the live buffer `buf`.
        let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
        let n = match usize::try_from(n) {
            Ok(0) => break true,
            Ok(n) => n,
            Err(_) if sys::errno() == libc::EINTR => continue,
            Err(_) => break false,
        };
        moved = true;
        if !send_all(to, buf.get(..n).unwrap_or(&[])) {
            break false;
        }
    };
    if clean && notice_silence && !moved {
        return Copied::Nothing;
    }
    if clean {
        shutdown(to, libc::SHUT_WR);
    } else {
        shutdown(to, libc::SHUT_RDWR);
        shutdown(from, libc::SHUT_RDWR);
    }
    Copied::Done
}

/// Sends all of `data`; MSG_NOSIGNAL, so a closed peer is an error return,
/// never SIGPIPE. False on any error.
fn send_all(fd: c_int, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: the pointer and length describe the live slice `data`.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        match usize::try_from(n) {
            Ok(0) => return false,
            Ok(n) => data = data.get(n..).unwrap_or(&[]),
            Err(_) if sys::errno() == libc::EINTR => {}
            Err(_) => return false,
        }
    }
    true
}

/// Drops one reference to `conn`; the last one closes both sockets, frees
/// the connection and takes it off LIVE.
fn release(conn: *mut Conn) {
    // SAFETY: the caller holds one of the references, so `conn` is alive.
    if unsafe { (*conn).refs.fetch_sub(1, Ordering::AcqRel) } != 1 {
        return;
    }
    // SAFETY: that was the last reference: nobody else touches `conn` now,
    // and it came from Box::into_raw in relay().
    let conn = unsafe { Box::from_raw(conn) };
    sys::close(conn.client);
    sys::close(conn.upstream);
    LIVE.fetch_sub(1, Ordering::AcqRel);
}

/// shutdown(2); errors (ENOTCONN once the peer is gone) do not matter.
fn shutdown(fd: c_int, how: c_int) {
    // SAFETY: plain shutdown(2) call on a socket we hold.
    unsafe { libc::shutdown(fd, how) };
}

/// Starts a detached thread with a 64 KiB stack running `f(arg)`.
/// Err(error number) if it could not.
fn spawn(f: extern "C" fn(*mut c_void) -> *mut c_void, arg: *mut c_void) -> Result<(), c_int> {
    // SAFETY: pthread_attr_t is plain old data, initialised by
    // pthread_attr_init before any other use.
    let mut attr: libc::pthread_attr_t = unsafe { core::mem::zeroed() };
    // SAFETY: `attr` is a valid pthread_attr_t to initialise.
    let r = unsafe { libc::pthread_attr_init(&mut attr) };
    if r != 0 {
        return Err(r);
    }
    // SAFETY: `attr` was initialised above; both values are valid.
    let r = unsafe {
        match libc::pthread_attr_setstacksize(&mut attr, STACK_SIZE) {
            0 => libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED),
            e => e,
        }
    };
    let r = if r == 0 {
        // SAFETY: pthread_t is an opaque out-value; `attr` is initialised;
        // `f` and `arg` stay valid for the thread (see the callers).
        let mut thread: libc::pthread_t = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::pthread_create(&mut thread, &attr, f, arg) }
    } else {
        r
    };
    // SAFETY: `attr` was initialised and is not used again.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    if r == 0 {
        Ok(())
    } else {
        Err(r)
    }
}

/// Sleeps 100 ms (accept back-off when out of descriptors or memory).
fn pause_briefly() {
    // SAFETY: timespec is plain old data; all zeroes is valid.
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    ts.tv_nsec = 100_000_000;
    // SAFETY: `ts` is a valid timespec; the remainder is not wanted.
    unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
}
