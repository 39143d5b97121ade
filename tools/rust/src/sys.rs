//! The few C library calls that std does not wrap: `mmap`/`munmap`,
//! `clock_gettime`, `poll`, `ioctl`, and the raw `futex` system call.
//!
//! std links the platform C library anyway, so declaring these symbols in
//! an `extern "C"` block needs no crate.  Only 64-bit little-endian Linux
//! is supported: the region layout is little-endian, and the types below
//! (`off_t`, `struct timespec`, the futex system call number) are those of
//! LP64 Linux.
//!
//! Every wrapper here is a safe function: the raw calls are confined to
//! this module, each with the reason it is sound.

use std::ffi::{c_int, c_long, c_ulong, c_void};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::AtomicU32;

#[cfg(not(all(target_os = "linux", target_endian = "little", target_pointer_width = "64")))]
compile_error!("dmxp-rs supports 64-bit little-endian Linux only (see MEMORY_LAYOUT.md section 1)");

/// A Linux `errno` value.  The C library returns these negated
/// (`-EAGAIN`); this binding returns them in `Err`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ENOENT: Errno = Errno(2);
    pub const EINTR: Errno = Errno(4);
    pub const EIO: Errno = Errno(5);
    pub const EAGAIN: Errno = Errno(11);
    pub const EBUSY: Errno = Errno(16);
    pub const ENODEV: Errno = Errno(19);
    pub const EINVAL: Errno = Errno(22);
    pub const ENOTTY: Errno = Errno(25);
    pub const EIDRM: Errno = Errno(43);
    pub const EPROTO: Errno = Errno(71);
    pub const EMSGSIZE: Errno = Errno(90);
    pub const EPROTONOSUPPORT: Errno = Errno(93);
    pub const ENOBUFS: Errno = Errno(105);
    pub const ETIMEDOUT: Errno = Errno(110);
    pub const ECANCELED: Errno = Errno(125);

    /// The calling thread's `errno` after a failed C call.
    pub fn last() -> Errno {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(Errno::EIO.0))
    }

    /// The symbolic name of the common values, for messages and tests.
    pub fn name(self) -> &'static str {
        match self {
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::EIO => "EIO",
            Errno::EAGAIN => "EAGAIN",
            Errno::EBUSY => "EBUSY",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOTTY => "ENOTTY",
            Errno::EIDRM => "EIDRM",
            Errno::EPROTO => "EPROTO",
            Errno::EMSGSIZE => "EMSGSIZE",
            Errno::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            Errno::ENOBUFS => "ENOBUFS",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::ECANCELED => "ECANCELED",
            _ => "errno",
        }
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(Errno::EIO.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

/// `Result` with an [`Errno`] error.
pub type Result<T> = std::result::Result<T, Errno>;

/// `struct timespec` of LP64 Linux.
#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `struct pollfd`.
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

// These are glibc's (and musl's) exported functions with their C
// prototypes for LP64 Linux; `off_t` is 64 bits there.
unsafe extern "C" {
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: i64,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn syscall(number: c_long, ...) -> c_long;
    fn sysconf(name: c_int) -> c_long;
}

/// `_SC_CLK_TCK` (glibc and musl on Linux).
const SC_CLK_TCK: c_int = 2;

/// Clock ticks per second (`USER_HZ`): the unit of `/proc/PID/stat`'s
/// times; 100 if it cannot be told.
pub fn clock_ticks() -> i64 {
    // SAFETY: sysconf() takes a plain integer and touches no memory of ours.
    let hz = unsafe { sysconf(SC_CLK_TCK) };
    if hz > 0 && hz <= 1_000_000_000 { hz as i64 } else { 100 }
}

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_SHARED: c_int = 1;
const MAP_FAILED: *mut c_void = !0usize as *mut c_void;
const CLOCK_MONOTONIC: c_int = 1;

/// `poll(2)` events.
pub const POLLIN: i16 = 1;
pub const POLLOUT: i16 = 4;

#[cfg(target_arch = "x86_64")]
const SYS_FUTEX: c_long = 202;
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "loongarch64"))]
const SYS_FUTEX: c_long = 98;
const FUTEX_WAKE: c_long = 1;
const FUTEX_WAIT_BITSET: c_long = 9;
const FUTEX_BITSET_MATCH_ANY: c_long = 0xffff_ffff;

/// Map `len` bytes of `fd` from offset 0, `MAP_SHARED`, read-write: the
/// one mapping a region takes (MEMORY_LAYOUT.md 2.3).
pub fn map_shared(fd: BorrowedFd<'_>, len: usize) -> Result<NonNull<u8>> {
    // SAFETY: a fresh mapping chosen by the kernel (addr NULL) aliases no
    // Rust object; the call itself has no other precondition.  What is
    // done with the memory is the caller's business.
    let p = unsafe {
        mmap(ptr::null_mut(), len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.as_raw_fd(), 0)
    };
    if p == MAP_FAILED {
        return Err(Errno::last());
    }
    NonNull::new(p.cast::<u8>()).ok_or(Errno::EIO)
}

/// Undo [`map_shared`].
///
/// # Safety
///
/// `p` and `len` must be exactly a mapping returned by [`map_shared`], and
/// no reference into it may be used afterwards.
pub unsafe fn unmap(p: NonNull<u8>, len: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { munmap(p.as_ptr().cast::<c_void>(), len) };
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of `timestamp_ns`
/// (MEMORY_LAYOUT.md 5.2) and of futex deadlines.
pub fn monotonic_ns() -> u64 {
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `struct timespec`.
    unsafe { clock_gettime(CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleep while `*word == expected`, until woken or until the absolute
/// `CLOCK_MONOTONIC` time `deadline_ns` (`None`: no limit).  A shared
/// futex, not `FUTEX_PRIVATE_FLAG`: wakers are other processes.
///
/// `Ok(())` when woken, or when the word no longer held `expected`
/// (`EAGAIN`: a wake-up came before we slept); `Err(ETIMEDOUT)`,
/// `Err(EINTR)` otherwise.
pub fn futex_wait(word: &AtomicU32, expected: u32, deadline_ns: Option<u64>) -> Result<()> {
    let ts = deadline_ns.map(|d| Timespec {
        tv_sec: (d / 1_000_000_000) as i64,
        tv_nsec: (d % 1_000_000_000) as i64,
    });
    let tsp = ts.as_ref().map_or(ptr::null(), |t| t as *const Timespec);
    // SAFETY: `word` is a live, 4-byte aligned atomic word (the kernel
    // only reads it atomically); `tsp` is NULL or points to `ts`, alive
    // for the call; uaddr2 is unused by FUTEX_WAIT_BITSET.
    let r = unsafe {
        syscall(
            SYS_FUTEX,
            word.as_ptr(),
            FUTEX_WAIT_BITSET,
            expected as c_long,
            tsp,
            ptr::null::<u32>(),
            FUTEX_BITSET_MATCH_ANY,
        )
    };
    if r == 0 {
        return Ok(());
    }
    match Errno::last() {
        Errno::EAGAIN => Ok(()),
        e => Err(e),
    }
}

/// Wake up to `n` sleepers of the futex `word`.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32);
    // SAFETY: `word` is a live, aligned word; FUTEX_WAKE reads nothing
    // else (timeout, uaddr2 and val3 are ignored).
    unsafe {
        syscall(
            SYS_FUTEX,
            word.as_ptr(),
            FUTEX_WAKE,
            n as c_long,
            ptr::null::<Timespec>(),
            ptr::null::<u32>(),
            0 as c_long,
        )
    };
}

/// `ioctl(fd, request, arg)` with a pointer argument; returns the call's
/// non-negative result.
///
/// # Safety
///
/// `T` must be the argument struct that `request` reads and writes, with
/// its exact size and layout (the request number encodes the size, which
/// `layout.rs` derives from `size_of::<T>()` and checks against C).
pub unsafe fn ioctl_ptr<T>(fd: BorrowedFd<'_>, request: u64, arg: &mut T) -> Result<c_int> {
    // SAFETY: `arg` is a valid, exclusive `T`, which is what `request`
    // expects (guaranteed by the caller).
    let r = unsafe { ioctl(fd.as_raw_fd(), request as c_ulong, arg as *mut T) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// Wait for `events` on `fd` for at most `timeout_ms` milliseconds
/// (negative: no limit).  `Ok(true)` if an event (or an error condition)
/// was reported, `Ok(false)` on timeout.
pub fn poll_one(fd: BorrowedFd<'_>, events: i16, timeout_ms: i32) -> Result<bool> {
    let mut p = PollFd { fd: fd.as_raw_fd(), events, revents: 0 };
    // SAFETY: one valid `struct pollfd`, alive for the call.
    let r = unsafe { poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r > 0)
    }
}
