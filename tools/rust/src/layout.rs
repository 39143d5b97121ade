//! The region layout of `Documentation/MEMORY_LAYOUT.md` (sections 3 to 6)
//! and of `include/uapi/linux/dmxp.h`, as `#[repr(C)]` structures.
//!
//! Every field that the document marks **atomic**, and every field that a
//! reader may load while another process writes it (`capacity`,
//! `band_offset`, `band_capacity`, `owner_pid`: written under `BUSY` and
//! read at any time, section 4), has an `AtomicU64`/`AtomicU32` type.
//! These have exactly the size and alignment of `u64`/`u32` on the
//! supported targets, so the layout is the C one, and a `&ChannelEntry`
//! (or `&GlobalHeader`) is sound: the only plain fields left in them
//! (`version`, `max_channels`, `region_size`, `claims_offset`,
//! `claims_count`, `channel_id`, padding) are written by the region's
//! creator before it publishes `magic`, and never again.  A [`Claim`] of
//! the claim table is atomic throughout but for its padding.
//!
//! A [`Slot`] is different: its `meta` and `payload` are plain bytes that
//! a producer writes while other processes may read the slot.  This
//! binding therefore never creates a reference to a `Slot` or a
//! `MessageMeta` in shared memory; it projects raw pointers to the fields
//! (`&raw mut (*slot).meta.flags`) and references only `sequence`, which
//! is atomic (MEMORY_LAYOUT.md 8.3).
//!
//! Sizes and offsets are checked twice: at compile time, by the `const`
//! assertions generated below from the document's tables, and at run time
//! by `dmxp-rs selftest` ([`self_test`]), which also writes known values
//! through the structs and reads the bytes back at the document's
//! offsets.  `dmxp-rs layout` ([`dump`]) prints everything in the format
//! of `c_peer layout`, which prints the same from the C header with
//! `offsetof`/`sizeof`, so the test suite compares Rust with C directly.

use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

// ------------------------------------------------------------ constants (6)

/// `magic`; the bytes "MEM_PXMD" in the file (little-endian).
pub const MAGIC: u64 = 0x444D_5850_5F4D_454D;
/// `version` of this layout.
pub const VERSION: u32 = 1;
/// Entries of the channel table; ids 0..255.
pub const MAX_CHANNELS: usize = 256;
/// `size_of::<GlobalHeader>()`, also the first possible `band_offset`.
pub const HEADER_SIZE: usize = 98_432;
/// `size_of::<ChannelEntry>()`.
pub const ENTRY_SIZE: usize = 384;
/// `size_of::<Slot>()`, the stride of a ring.
pub const SLOT_SIZE: usize = 1_088;
/// Payload bytes per slot.
pub const MAX_PAYLOAD: usize = 960;
/// Smallest ring, in slots.
pub const CAPACITY_MIN: u64 = 2;
/// Largest ring, in slots.
pub const CAPACITY_MAX: u64 = 1 << 24;
/// `band_offset` and `alloc_cursor` are multiples of this.
pub const BAND_ALIGN: u64 = 64;
/// The largest region file the library accepts (2.1).
pub const REGION_SIZE_MAX: u64 = 1 << 40;

/// `ChannelEntry.flags`: ring initialised, channel usable.
pub const CHAN_CREATED: u32 = 1;
/// `ChannelEntry.flags`: being created or destroyed.
pub const CHAN_BUSY: u32 = 2;
/// Every defined `ChannelEntry.flags` bit.
pub const CHAN_FLAGS_KNOWN: u32 = CHAN_CREATED | CHAN_BUSY;

/// `MessageMeta.flags`: no message, consumers skip the slot (9.1).
pub const MSG_TOMBSTONE: u16 = 1;

/// The claim table (12, `lib/claim.c`, Documentation/RELIABILITY.md): records
/// a region's creator puts in it, the most a reader accepts, the size of
/// one, and the positions one record may hold (a batch's limit).
pub const CLAIMS: u32 = 512;
pub const CLAIMS_MAX: u32 = 4096;
pub const CLAIM_SIZE: usize = 64;
pub const CLAIM_BATCH_MAX: u32 = 1024;

/// `Claim.state`: holds nothing.
pub const CLAIM_IDLE: u32 = 0;
/// `Claim.state`: claiming or writing `[pos, pos + count)`.
pub const CLAIM_SEND: u32 = 1;
/// `Claim.state`: every message in `[pos, pos + count)` is complete.
pub const CLAIM_SEND_WRITTEN: u32 = 2;
/// `Claim.state`: claiming or reading `[pos, pos + count)`.
pub const CLAIM_RECV: u32 = 3;
/// `Claim.state`: a repairer turning `[pos, pos + count)` into tombstones.
pub const CLAIM_REPAIR: u32 = 4;

/// Default region file, and the variable that overrides it (2.1).
pub const DEFAULT_REGION: &str = "/dev/shm/dmxp_alloc";
pub const REGION_ENV: &str = "DMXP_REGION";

/// `enum dmxp_runtime`: who sent a message (`MessageMeta.sender_runtime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Runtime {
    Unknown = 0,
    C = 1,
    Rust = 2,
    Python = 3,
    Kernel = 4,
    Go = 5,
    Java = 6,
    Other = 0xffff,
}

// ------------------------------------------------------------- structures

/// Metadata of one message, 40 bytes at slot offset 8 (5.2).  Plain
/// fields: written by the producer that owns the slot, read by the
/// consumer that owns it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MessageMeta {
    pub message_id: u64,
    pub timestamp_ns: u64,
    pub channel_id: u32,
    pub message_type: u32,
    pub sender_pid: u32,
    pub sender_runtime: u16,
    pub flags: u16,
    pub payload_len: u32,
    pub pad: u32,
}

/// One slot of a ring, 1,088 bytes, 64-byte aligned (5.1).
#[repr(C, align(64))]
pub struct Slot {
    /// Whose turn the slot is (7.1); the only field read before a claim.
    pub sequence: AtomicU64,
    pub meta: MessageMeta,
    pub pad: [u8; 16],
    pub payload: [u8; MAX_PAYLOAD],
    pub reserved: [u8; 64],
}

/// One channel, 384 bytes, 128-byte aligned, at region offset
/// `128 + 384 * id` (4).
#[repr(C, align(128))]
pub struct ChannelEntry {
    pub channel_id: u32,
    pub flags: AtomicU32,
    pub capacity: AtomicU64,
    pub band_offset: AtomicU64,
    pub generation: AtomicU32,
    pub owner_pid: AtomicU32,
    pub band_capacity: AtomicU64,
    pub recv_waiters: AtomicU32,
    pub send_waiters: AtomicU32,
    pub recv_futex: AtomicU32,
    pub send_futex: AtomicU32,
    pub wake_pad: [u32; 2],
    /// Slots of dead processes given back by a repairer.
    pub repaired: AtomicU64,
    /// Of those, messages never written: published as tombstones.
    pub tombstoned: AtomicU64,
    /// Region files: the start time of the process holding `BUSY`.
    pub owner_start: AtomicU64,
    /// Region files: the pid namespace (inode) of the process holding `BUSY`.
    pub owner_ns: AtomicU64,
    pub meta_pad: [u8; 32],
    /// Next position to produce; alone on its 128-byte line.
    pub tail: AtomicU64,
    pub tail_pad: [u8; 120],
    /// Next position to consume; alone on its 128-byte line.
    pub head: AtomicU64,
    pub head_pad: [u8; 120],
}

/// The region header at offset 0, 98,432 bytes (3).
#[repr(C, align(128))]
pub struct GlobalHeader {
    pub magic: AtomicU64,
    pub version: u32,
    pub max_channels: u32,
    pub channel_count: AtomicU32,
    pub reserved: u32,
    pub region_size: u64,
    pub alloc_cursor: AtomicU64,
    /// The claim table: its region offset (0: none) and its records.
    /// Written by the creator before `magic`, like `region_size`.
    pub claims_offset: u64,
    pub claims_count: u32,
    pub claims_pad: u32,
    /// Region files: `pid << 32 | start time` of the repairer at work.
    pub repair_lock: AtomicU64,
    pub pad: [u8; 64],
    pub channels: [ChannelEntry; MAX_CHANNELS],
}

/// One record of the claim table, 64 bytes (12.1): what one thread of one
/// process is claiming or holding, written before each claiming CAS, so
/// that the claims of a process that died can be repaired.  Every field
/// but the padding is written by its owner while repairers read it, and
/// by repairers: all atomic.
#[repr(C)]
pub struct Claim {
    /// 0: free; `/dev/dmxp`: the file's lease; region files: the pid
    /// (with bit 31 while the record is being set up).
    pub owner: AtomicU32,
    /// `CLAIM_*`.
    pub state: AtomicU32,
    /// The first position claimed.
    pub pos: AtomicU64,
    pub chan: AtomicU32,
    /// Positions from `pos`, 1..=`CLAIM_BATCH_MAX`.
    pub count: AtomicU32,
    /// The channel's generation at the claim.
    pub generation: AtomicU32,
    /// The holder's tgid, start time (`/proc/PID/stat` field 22) and pid
    /// namespace (inode of `/proc/PID/ns/pid`).
    pub pid: AtomicU32,
    pub start_time: AtomicU64,
    pub pid_ns: AtomicU64,
    /// Zero; never written.
    pub pad: [u8; 16],
}

// ------------------------------------------- the kernel backend's ioctls

/// The device of the kernel backend, its default region, and the size of
/// a region name with its NUL.
pub const DEVICE: &str = "/dev/dmxp";
pub const DEFAULT_KERNEL_REGION: &str = "default";
pub const NAME_MAX: usize = 32;

/// `struct dmxp_ioc_version`.
#[derive(Default)]
#[repr(C)]
pub struct IocVersion {
    pub version: u32,
    pub features: u32,
    pub max_region_size: u64,
    pub reserved: [u64; 2],
}

/// `struct dmxp_ioc_region`.
#[derive(Default)]
#[repr(C)]
pub struct IocRegion {
    pub name: [u8; NAME_MAX],
    pub size: u64,
    pub mode: u32,
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    /// Out: this file's claim owner; 0 from a module without repair.
    pub lease: u32,
    pub pad: u32,
    pub reserved: u64,
}

/// `struct dmxp_ioc_notify`.
#[derive(Default)]
#[repr(C)]
pub struct IocNotify {
    pub id: u32,
    pub flags: u32,
    pub reserved: u64,
}

/// `struct dmxp_ioc_chan_fd`.
#[derive(Default)]
#[repr(C)]
pub struct IocChanFd {
    pub id: u32,
    pub flags: u32,
    pub reserved: u64,
}

/// `dmxp_ioc_notify.flags`.
pub const NOTIFY_RECV: u32 = 1;
pub const NOTIFY_SEND: u32 = 2;
/// `dmxp_ioc_chan_fd.flags`.
pub const CHAN_FD_NONBLOCK: u32 = 1;
/// `dmxp_ioc_version.version`: the ABI major in the low 16 bits, the
/// minor in the high 16 (`DMXP_ABI_MAJOR_OF()`).
pub const ABI_MAJOR: u32 = VERSION;
pub const ABI_MAJOR_MASK: u32 = 0xffff;
/// `dmxp_ioc_version.features`.
pub const FEAT_REGIONS: u32 = 1 << 0;
pub const FEAT_CHANNELS: u32 = 1 << 1;
pub const FEAT_WAKE: u32 = 1 << 2;
pub const FEAT_REPAIR: u32 = 1 << 3;

/// `_IOC(dir, 0xD8, nr, size)` of the generic Linux encoding (x86, arm64,
/// riscv): direction in bits 30-31, size in 16-29, type, number.
const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xD8 << 8) | nr
}
const IOC_WRITE: u64 = 1;
const IOC_READ: u64 = 2;
pub const IOC_VERSION: u64 = ioc(IOC_READ | IOC_WRITE, 0x00, size_of::<IocVersion>());
pub const IOC_REGION_ATTACH: u64 = ioc(IOC_READ | IOC_WRITE, 0x02, size_of::<IocRegion>());
pub const IOC_NOTIFY: u64 = ioc(IOC_WRITE, 0x06, size_of::<IocNotify>());
pub const IOC_CHAN_FD: u64 = ioc(IOC_WRITE, 0x07, size_of::<IocChanFd>());

// ------------------------------------------------------ the layout tables

/// The size of a field, from a raw pointer to it; usable in `const`.
const fn pointee_size<T>(_: *const T) -> usize {
    size_of::<T>()
}

/// `size_of` the field `$f` (a dotted path) of `$t`, in a `const` context.
macro_rules! field_size {
    ($t:ty, $($f:ident).+) => {{
        let v = std::mem::MaybeUninit::<$t>::uninit();
        // SAFETY: `&raw const` only computes the field's address inside
        // `v`; nothing is read from the uninitialised value.
        pointee_size(unsafe { &raw const (*v.as_ptr()).$($f).+ })
    }};
}

/// One field: its name, its offset and size in the Rust struct, and the
/// offset and size the document gives.
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
    pub doc_offset: usize,
    pub doc_size: usize,
}

/// One struct: its size and alignment in Rust, and the document's.
pub struct Struct {
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    pub doc_size: usize,
    pub doc_align: usize,
}

/// From the document's tables: a `const` assertion per struct and per
/// field (a wrong offset does not compile), and the tables [`STRUCTS`]
/// and [`FIELDS`] for the run-time checks and the dump.
macro_rules! layout {
    ($( $t:ident ($size:expr, $align:expr) { $( $($f:ident).+ @ $off:expr, $fsize:expr; )* } )*) => {
        $(
            const _: () = assert!(size_of::<$t>() == $size && align_of::<$t>() == $align,
                                  concat!("size or alignment of ", stringify!($t)));
            $(
                const _: () = assert!(offset_of!($t, $($f).+) == $off,
                                      concat!("offset of ", stringify!($t), $(".", stringify!($f)),+));
                const _: () = assert!(field_size!($t, $($f).+) == $fsize,
                                      concat!("size of ", stringify!($t), $(".", stringify!($f)),+));
            )*
        )*
        /// Every struct of the layout, with the document's size and alignment.
        pub const STRUCTS: &[Struct] = &[$(
            Struct { name: stringify!($t), size: size_of::<$t>(), align: align_of::<$t>(),
                     doc_size: $size, doc_align: $align },
        )*];
        /// Every field of the layout, with the document's offset and size.
        pub const FIELDS: &[Field] = &[$($(
            Field { name: concat!(stringify!($t), $(".", stringify!($f)),+),
                    offset: offset_of!($t, $($f).+), size: field_size!($t, $($f).+),
                    doc_offset: $off, doc_size: $fsize },
        )*)*];
    };
}

layout! {
    MessageMeta (40, 8) {
        message_id @ 0, 8;
        timestamp_ns @ 8, 8;
        channel_id @ 16, 4;
        message_type @ 20, 4;
        sender_pid @ 24, 4;
        sender_runtime @ 28, 2;
        flags @ 30, 2;
        payload_len @ 32, 4;
        pad @ 36, 4;
    }
    Slot (SLOT_SIZE, 64) {
        sequence @ 0, 8;
        meta @ 8, 40;
        meta.message_id @ 8, 8;
        meta.timestamp_ns @ 16, 8;
        meta.channel_id @ 24, 4;
        meta.message_type @ 28, 4;
        meta.sender_pid @ 32, 4;
        meta.sender_runtime @ 36, 2;
        meta.flags @ 38, 2;
        meta.payload_len @ 40, 4;
        meta.pad @ 44, 4;
        pad @ 48, 16;
        payload @ 64, MAX_PAYLOAD;
        reserved @ 1024, 64;
    }
    ChannelEntry (ENTRY_SIZE, 128) {
        channel_id @ 0, 4;
        flags @ 4, 4;
        capacity @ 8, 8;
        band_offset @ 16, 8;
        generation @ 24, 4;
        owner_pid @ 28, 4;
        band_capacity @ 32, 8;
        recv_waiters @ 40, 4;
        send_waiters @ 44, 4;
        recv_futex @ 48, 4;
        send_futex @ 52, 4;
        wake_pad @ 56, 8;
        repaired @ 64, 8;
        tombstoned @ 72, 8;
        owner_start @ 80, 8;
        owner_ns @ 88, 8;
        meta_pad @ 96, 32;
        tail @ 128, 8;
        tail_pad @ 136, 120;
        head @ 256, 8;
        head_pad @ 264, 120;
    }
    GlobalHeader (HEADER_SIZE, 128) {
        magic @ 0, 8;
        version @ 8, 4;
        max_channels @ 12, 4;
        channel_count @ 16, 4;
        reserved @ 20, 4;
        region_size @ 24, 8;
        alloc_cursor @ 32, 8;
        claims_offset @ 40, 8;
        claims_count @ 48, 4;
        claims_pad @ 52, 4;
        repair_lock @ 56, 8;
        pad @ 64, 64;
        channels @ 128, MAX_CHANNELS * ENTRY_SIZE;
    }
    Claim (CLAIM_SIZE, 8) {
        owner @ 0, 4;
        state @ 4, 4;
        pos @ 8, 8;
        chan @ 16, 4;
        count @ 20, 4;
        generation @ 24, 4;
        pid @ 28, 4;
        start_time @ 32, 8;
        pid_ns @ 40, 8;
        pad @ 48, 16;
    }
    IocVersion (32, 8) {
        version @ 0, 4;
        features @ 4, 4;
        max_region_size @ 8, 8;
        reserved @ 16, 16;
    }
    IocRegion (72, 8) {
        name @ 0, NAME_MAX;
        size @ 32, 8;
        mode @ 40, 4;
        flags @ 44, 4;
        uid @ 48, 4;
        gid @ 52, 4;
        lease @ 56, 4;
        pad @ 60, 4;
        reserved @ 64, 8;
    }
    IocNotify (16, 8) {
        id @ 0, 4;
        flags @ 4, 4;
        reserved @ 8, 8;
    }
    IocChanFd (16, 8) {
        id @ 0, 4;
        flags @ 4, 4;
        reserved @ 8, 8;
    }
}

// Entry 255 ends exactly at the end of the header (3).
const _: () =
    assert!(offset_of!(GlobalHeader, channels) + 255 * size_of::<ChannelEntry>() == 98_048);
// The atomic types are the integers' size and alignment, and lock-free
// (address-free) 4- and 8-byte atomics exist (8.1).
const _: () = assert!(size_of::<AtomicU64>() == 8 && align_of::<AtomicU64>() == 8);
const _: () = assert!(size_of::<AtomicU32>() == 4 && align_of::<AtomicU32>() == 4);
#[cfg(not(all(target_has_atomic = "64", target_has_atomic = "32", target_has_atomic = "16")))]
compile_error!("cross-process atomics need native 16-, 32- and 64-bit atomic instructions");

/// The constants of section 6 and of the ioctl ABI, by their C names.
pub fn constants() -> Vec<(&'static str, u64)> {
    vec![
        ("DMXP_MAGIC", MAGIC),
        ("DMXP_VERSION", VERSION as u64),
        ("DMXP_MAX_CHANNELS", MAX_CHANNELS as u64),
        ("DMXP_HEADER_SIZE", HEADER_SIZE as u64),
        ("DMXP_ENTRY_SIZE", ENTRY_SIZE as u64),
        ("DMXP_SLOT_SIZE", SLOT_SIZE as u64),
        ("DMXP_MAX_PAYLOAD", MAX_PAYLOAD as u64),
        ("DMXP_CAPACITY_MIN", CAPACITY_MIN),
        ("DMXP_CAPACITY_MAX", CAPACITY_MAX),
        ("DMXP_BAND_ALIGN", BAND_ALIGN),
        ("DMXP_CHAN_CREATED", CHAN_CREATED as u64),
        ("DMXP_CHAN_BUSY", CHAN_BUSY as u64),
        ("DMXP_CHAN_FLAGS_KNOWN", CHAN_FLAGS_KNOWN as u64),
        ("DMXP_MSG_TOMBSTONE", MSG_TOMBSTONE as u64),
        ("DMXP_CLAIMS", CLAIMS as u64),
        ("DMXP_CLAIMS_MAX", CLAIMS_MAX as u64),
        ("DMXP_CLAIM_SIZE", CLAIM_SIZE as u64),
        ("DMXP_CLAIM_BATCH_MAX", CLAIM_BATCH_MAX as u64),
        ("DMXP_CLAIM_IDLE", CLAIM_IDLE as u64),
        ("DMXP_CLAIM_SEND", CLAIM_SEND as u64),
        ("DMXP_CLAIM_SEND_WRITTEN", CLAIM_SEND_WRITTEN as u64),
        ("DMXP_CLAIM_RECV", CLAIM_RECV as u64),
        ("DMXP_CLAIM_REPAIR", CLAIM_REPAIR as u64),
        ("DMXP_RUNTIME_UNKNOWN", Runtime::Unknown as u64),
        ("DMXP_RUNTIME_C", Runtime::C as u64),
        ("DMXP_RUNTIME_RUST", Runtime::Rust as u64),
        ("DMXP_RUNTIME_PYTHON", Runtime::Python as u64),
        ("DMXP_RUNTIME_KERNEL", Runtime::Kernel as u64),
        ("DMXP_RUNTIME_GO", Runtime::Go as u64),
        ("DMXP_RUNTIME_JAVA", Runtime::Java as u64),
        ("DMXP_RUNTIME_OTHER", Runtime::Other as u64),
        ("DMXP_NAME_MAX", NAME_MAX as u64),
        ("DMXP_NOTIFY_RECV", NOTIFY_RECV as u64),
        ("DMXP_NOTIFY_SEND", NOTIFY_SEND as u64),
        ("DMXP_CHAN_FD_NONBLOCK", CHAN_FD_NONBLOCK as u64),
        ("DMXP_ABI_MAJOR", ABI_MAJOR as u64),
        ("DMXP_FEAT_REGIONS", FEAT_REGIONS as u64),
        ("DMXP_FEAT_CHANNELS", FEAT_CHANNELS as u64),
        ("DMXP_FEAT_WAKE", FEAT_WAKE as u64),
        ("DMXP_FEAT_REPAIR", FEAT_REPAIR as u64),
        ("DMXP_IOC_VERSION", IOC_VERSION),
        ("DMXP_IOC_REGION_ATTACH", IOC_REGION_ATTACH),
        ("DMXP_IOC_NOTIFY", IOC_NOTIFY),
        ("DMXP_IOC_CHAN_FD", IOC_CHAN_FD),
    ]
}

/// The whole layout as text, one item per line, in the format of
/// `c_peer layout` (which prints the same from the C header):
///
/// ```text
/// struct Slot size 1088 align 64
/// field Slot.meta.payload_len offset 40 size 4
/// const DMXP_SLOT_SIZE 0x440
/// ```
pub fn dump() -> String {
    let mut s = String::new();
    for t in STRUCTS {
        s += &format!("struct {} size {} align {}\n", t.name, t.size, t.align);
    }
    for f in FIELDS {
        s += &format!("field {} offset {} size {}\n", f.name, f.offset, f.size);
    }
    for (name, v) in constants() {
        s += &format!("const {name} {v:#x}\n");
    }
    s
}

/// The run-time layout checks of `dmxp-rs selftest`.  Returns one line per
/// failed check (empty: all passed) and the number of checks made.
pub fn self_test() -> (usize, Vec<String>) {
    let mut n = 0;
    let mut bad = Vec::new();
    let mut check = |ok: bool, what: String| {
        n += 1;
        if !ok {
            bad.push(what);
        }
    };

    for t in STRUCTS {
        check(
            t.size == t.doc_size && t.align == t.doc_align,
            format!(
                "{}: size {} align {}, the document says {} and {}",
                t.name, t.size, t.align, t.doc_size, t.doc_align
            ),
        );
    }
    for f in FIELDS {
        check(
            f.offset == f.doc_offset && f.size == f.doc_size,
            format!(
                "{}: offset {} size {}, the document says {} and {}",
                f.name, f.offset, f.size, f.doc_offset, f.doc_size
            ),
        );
    }

    // Write distinct values through the structs and find them at the
    // document's byte offsets, little-endian: the layout as bytes.
    let mut hdr: Box<std::mem::MaybeUninit<GlobalHeader>> = Box::new_uninit();
    let h = hdr.as_mut_ptr();
    // SAFETY: `h` points to a private, exclusively owned allocation of a
    // GlobalHeader; it is zeroed first (every field is an integer, an
    // atomic integer or a byte array, all valid when zero), then written
    // and read only through it, by this thread.
    let bytes: &[u8] = unsafe {
        h.cast::<u8>().write_bytes(0, size_of::<GlobalHeader>());
        let h = &mut *h;
        *h.magic.get_mut() = MAGIC;
        h.version = VERSION;
        h.max_channels = MAX_CHANNELS as u32;
        h.region_size = 0x0102_0304_0506_0708;
        *h.alloc_cursor.get_mut() = HEADER_SIZE as u64;
        h.claims_offset = 0x2122_2324_2526_2728;
        h.claims_count = 0x3132_3334;
        *h.repair_lock.get_mut() = 0x4142_4344_4546_4748;
        let e = &mut h.channels[255];
        e.channel_id = 255;
        *e.flags.get_mut() = CHAN_CREATED;
        *e.capacity.get_mut() = 1024;
        *e.band_offset.get_mut() = 0x1_0000;
        *e.generation.get_mut() = 0xA1A2_A3A4;
        *e.recv_futex.get_mut() = 0xB1B2_B3B4;
        *e.send_futex.get_mut() = 0xC1C2_C3C4;
        *e.repaired.get_mut() = 0xD1D2_D3D4_D5D6_D7D8;
        *e.tombstoned.get_mut() = 0xE1E2_E3E4_E5E6_E7E8;
        *e.tail.get_mut() = 0x1111_2222_3333_4444;
        *e.head.get_mut() = 0x5555_6666_7777_8888;
        std::slice::from_raw_parts(h as *const GlobalHeader as *const u8, size_of::<GlobalHeader>())
    };
    let le64 = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let le32 = |off: usize| u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    let e = 128 + 255 * ENTRY_SIZE;
    check(&bytes[0..8] == b"MEM_PXMD", "magic is not \"MEM_PXMD\" at offset 0".into());
    check(le32(8) == 1 && le32(12) == 256, "version, max_channels at 8, 12".into());
    check(le64(24) == 0x0102_0304_0506_0708, "region_size at 24".into());
    check(le64(32) == HEADER_SIZE as u64, "alloc_cursor at 32".into());
    check(
        le64(40) == 0x2122_2324_2526_2728 && le32(48) == 0x3132_3334,
        "claims_offset, claims_count at 40, 48".into(),
    );
    check(le64(56) == 0x4142_4344_4546_4748, "repair_lock at 56".into());
    check(
        e == 98_048 && le32(e) == 255 && le32(e + 4) == CHAN_CREATED,
        "entry 255 at 98,048".into(),
    );
    check(le64(e + 8) == 1024 && le64(e + 16) == 0x1_0000, "capacity, band_offset".into());
    check(le32(e + 24) == 0xA1A2_A3A4, "generation at entry offset 24".into());
    check(
        le32(e + 48) == 0xB1B2_B3B4 && le32(e + 52) == 0xC1C2_C3C4,
        "futex words at 48, 52".into(),
    );
    check(
        le64(e + 64) == 0xD1D2_D3D4_D5D6_D7D8 && le64(e + 72) == 0xE1E2_E3E4_E5E6_E7E8,
        "repaired, tombstoned at entry offsets 64, 72".into(),
    );
    check(le64(e + 128) == 0x1111_2222_3333_4444, "tail at entry offset 128".into());
    check(le64(e + 256) == 0x5555_6666_7777_8888, "head at entry offset 256".into());
    drop(hdr);

    let mut slot: Box<std::mem::MaybeUninit<Slot>> = Box::new_uninit();
    let s = slot.as_mut_ptr();
    // SAFETY: as above, a private zeroed allocation of one Slot.
    let bytes: &[u8] = unsafe {
        s.cast::<u8>().write_bytes(0, size_of::<Slot>());
        let s = &mut *s;
        *s.sequence.get_mut() = 0xFEDC_BA98_7654_3210;
        s.meta = MessageMeta {
            message_id: 0x0A0B_0C0D_0E0F_1011,
            timestamp_ns: 42,
            channel_id: 7,
            message_type: 0xDEAD_BEEF,
            sender_pid: 4242,
            sender_runtime: Runtime::Rust as u16,
            flags: MSG_TOMBSTONE,
            payload_len: 960,
            pad: 0,
        };
        s.payload[0] = 0x5A;
        s.payload[MAX_PAYLOAD - 1] = 0xA5;
        std::slice::from_raw_parts(s as *const Slot as *const u8, size_of::<Slot>())
    };
    let le64 = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let le32 = |off: usize| u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    let le16 = |off: usize| u16::from_le_bytes(bytes[off..off + 2].try_into().unwrap());
    check(le64(0) == 0xFEDC_BA98_7654_3210, "sequence at slot offset 0".into());
    check(
        le64(8) == 0x0A0B_0C0D_0E0F_1011 && le64(16) == 42,
        "message_id, timestamp_ns at 8, 16".into(),
    );
    check(
        le32(24) == 7 && le32(28) == 0xDEAD_BEEF && le32(32) == 4242,
        "channel_id, message_type, sender_pid at 24, 28, 32".into(),
    );
    check(
        le16(36) == 2 && le16(38) == 1 && le32(40) == 960,
        "sender_runtime, flags, payload_len at 36, 38, 40".into(),
    );
    check(bytes[64] == 0x5A && bytes[1023] == 0xA5, "payload at 64..1024".into());
    drop(slot);

    let c = Claim {
        owner: AtomicU32::new(0x8000_1234),
        state: AtomicU32::new(CLAIM_SEND_WRITTEN),
        pos: AtomicU64::new(0x0102_0304_0506_0708),
        chan: AtomicU32::new(255),
        count: AtomicU32::new(CLAIM_BATCH_MAX),
        generation: AtomicU32::new(0xA1A2_A3A4),
        pid: AtomicU32::new(0x1234),
        start_time: AtomicU64::new(0xB1B2_B3B4_B5B6_B7B8),
        pid_ns: AtomicU64::new(0xC1C2_C3C4_C5C6_C7C8),
        pad: [0; 16],
    };
    // SAFETY: `c` is a local Claim of 64 initialised bytes (no implicit
    // padding: the layout table covers every byte), read while it lives.
    let bytes: &[u8] =
        unsafe { std::slice::from_raw_parts(&c as *const Claim as *const u8, size_of::<Claim>()) };
    let le64 = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let le32 = |off: usize| u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    check(le32(0) == 0x8000_1234 && le32(4) == 2, "claim owner, state at 0, 4".into());
    check(
        le64(8) == 0x0102_0304_0506_0708 && le32(16) == 255 && le32(20) == 1024,
        "claim pos, chan, count at 8, 16, 20".into(),
    );
    check(le32(24) == 0xA1A2_A3A4 && le32(28) == 0x1234, "claim generation, pid at 24, 28".into());
    check(
        le64(32) == 0xB1B2_B3B4_B5B6_B7B8 && le64(40) == 0xC1C2_C3C4_C5C6_C7C8,
        "claim start_time, pid_ns at 32, 40".into(),
    );

    // The ioctl numbers as the C header spells them (_IOWR(0xD8, 0, ...)).
    check(IOC_VERSION == 0xC020_D800, format!("DMXP_IOC_VERSION is {IOC_VERSION:#x}"));
    check(IOC_NOTIFY == 0x4010_D806, format!("DMXP_IOC_NOTIFY is {IOC_NOTIFY:#x}"));
    (n, bad)
}
