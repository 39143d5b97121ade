//! Attaching to a region and validating its header
//! (MEMORY_LAYOUT.md 2.3; for `/dev/dmxp`, the ioctls of the uapi header).
//!
//! A region is one mapping of the whole file (or kernel region), shared
//! and read-write: consumers write too (`head`, slot sequences).  The
//! header was written by another process and may be foreign, of another
//! version, truncated or damaged, so [`validate`] checks every value a
//! later access depends on before anything else is used, and a failed
//! check is `EPROTO`, never an out-of-bounds access.
//!
//! This binding only attaches: regions and channels are created by the C
//! library or `dmxpctl` (for region files that is MEMORY_LAYOUT.md 2.2 and
//! 10.2; for kernel regions the module does it).
//!
//! A region handle also takes records of the region's claim table
//! (MEMORY_LAYOUT.md 12, `lib/claim.c`, Documentation/RELIABILITY.md):
//! before claiming ring positions, a thread writes them into a record of
//! its own, so that if this process dies holding them, the kernel module
//! (which knows the record's owner by the file's lease) or a surviving
//! library process (which checks the owner's pid, start time and pid
//! namespace) can repair them.  [`Region::record`] lends a record to one
//! claim at a time; the handle keeps the records it took (at most
//! [`POOL`]) and gives back the idle ones when dropped.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Mutex;

use crate::layout::{
    ChannelEntry, Claim, GlobalHeader, IocRegion, IocVersion, ABI_MAJOR, ABI_MAJOR_MASK,
    BAND_ALIGN, CAPACITY_MAX, CAPACITY_MIN, CHAN_CREATED, CHAN_FLAGS_KNOWN, CLAIMS_MAX, CLAIM_IDLE,
    CLAIM_SEND_WRITTEN, CLAIM_SIZE, DEFAULT_KERNEL_REGION, DEFAULT_REGION, DEVICE, FEAT_CHANNELS,
    FEAT_REGIONS, FEAT_REPAIR, FEAT_WAKE, HEADER_SIZE, IOC_REGION_ATTACH, IOC_VERSION, MAGIC,
    MAX_CHANNELS, NAME_MAX, REGION_ENV, REGION_SIZE_MAX, SLOT_SIZE, VERSION,
};
use crate::sys::{self, Errno, Result};

/// What this peer needs of the module, as libdmxp (lib/kernel.c) does:
/// bits it does not know are ignored.
pub const KERNEL_NEEDS: u32 = FEAT_REGIONS | FEAT_CHANNELS | FEAT_WAKE | FEAT_REPAIR;

/// Accept the module's answer to the handshake when its ABI major is ours
/// and its features include [`KERNEL_NEEDS`], whatever its minor and its
/// other bits (the rule of `<linux/dmxp.h>` at `DMXP_ABI_MAJOR`); else
/// `EPROTO`.  The request (major 1, minor 0, no feature asked for) is the
/// one a 1.0.0 module accepts too.
pub fn handshake_answer(v: &IocVersion) -> Result<()> {
    if v.version & ABI_MAJOR_MASK != ABI_MAJOR || v.features & KERNEL_NEEDS != KERNEL_NEEDS {
        return Err(Errno::EPROTO);
    }
    Ok(())
}

/// Where the region's memory comes from.
pub enum Backend {
    /// A region file (normally on tmpfs); sleepers use the futex words.
    File,
    /// A kernel region: the `/dev/dmxp` file bound to it, kept open for
    /// `DMXP_IOC_NOTIFY` and `DMXP_IOC_CHAN_FD`.
    Kernel(File),
}

/// An attached, validated region.  Its idle claim records are given back
/// and the region is unmapped when dropped.
pub struct Region {
    base: NonNull<GlobalHeader>,
    size: usize,
    backend: Backend,
    path: String,
    claims: Claims,
}

// SAFETY: a Region is a mapping of shared memory that other processes
// write concurrently anyway; this binding touches it only through atomics,
// immutable fields, and slots it owns by the ring protocol, so using it
// from several threads is no different from using it from several
// processes.
unsafe impl Send for Region {}
// SAFETY: as for Send.
unsafe impl Sync for Region {}

/// The region path to use: `path` if not empty, else `$DMXP_REGION` if set
/// and not empty, else `/dev/shm/dmxp_alloc` (2.1).
pub fn default_path(path: Option<&str>) -> String {
    match path {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => match std::env::var(REGION_ENV) {
            Ok(p) if !p.is_empty() => p,
            _ => DEFAULT_REGION.to_string(),
        },
    }
}

/// The band check of (capacity `c`, offset `o`) in a region of `size`
/// bytes (2.3): the ring lies inside the region, above the header.
pub fn band_ok(c: u64, o: u64, size: u64) -> bool {
    (CAPACITY_MIN..=CAPACITY_MAX).contains(&c)
        && c.is_power_of_two()
        && o % BAND_ALIGN == 0
        && o >= HEADER_SIZE as u64
        && o <= size
        && c * SLOT_SIZE as u64 <= size - o // no overflow: c <= 2^24
}

/// Validate a region header as the library does (2.3).
///
/// Reads only the 98,432 header bytes: `size` is the size of the file (or
/// kernel region), compared with `region_size` and used for the band
/// checks, never to access memory.
///
/// # Safety
///
/// `hdr` must point to `HEADER_SIZE` readable bytes, 128-byte aligned,
/// whose plain fields no one writes during the call (true of a mapped
/// region: only atomic fields change once `magic` is set).
pub unsafe fn validate(hdr: *const GlobalHeader, size: u64) -> Result<()> {
    let bad = Err(Errno::EPROTO);
    // SAFETY: `hdr` is valid and aligned (caller).  Atomic fields are
    // borrowed as atomics; plain fields are read through the raw pointer,
    // no reference to the whole header is formed before it is known to be
    // a region.
    unsafe {
        // Acquire: pairs with the creator's release store of magic (2.2
        // step 4), so the fields it wrote before are visible.
        if (*hdr).magic.load(Acquire) != MAGIC
            || (*hdr).version != VERSION
            || (*hdr).max_channels != MAX_CHANNELS as u32
            || (*hdr).region_size != size
        {
            return bad;
        }
        // Relaxed: the cursor only grows; any value read is checked here.
        let cursor = (*hdr).alloc_cursor.load(Relaxed);
        if cursor < HEADER_SIZE as u64 || cursor > size || cursor % BAND_ALIGN != 0 {
            return bad;
        }
        for i in 0..MAX_CHANNELS {
            let e: &ChannelEntry = &(*hdr).channels[i];
            // Acquire: pairs with the release store of flags that ends a
            // create (10.2 step 7); then capacity is that create's.
            let flags = e.flags.load(Acquire);
            // Relaxed: written under BUSY and checked right here; a channel
            // created or destroyed meanwhile is checked again at open.
            let boff = e.band_offset.load(Relaxed);
            let bcap = e.band_capacity.load(Relaxed);
            if e.channel_id != i as u32
                || flags & !CHAN_FLAGS_KNOWN != 0
                || (bcap != 0 && !band_ok(bcap, boff, size))
                || (flags & CHAN_CREATED != 0 && !band_ok(e.capacity.load(Relaxed), boff, size))
            {
                return bad;
            }
        }
    }
    Ok(())
}

/// [`validate`] of a header the caller holds a reference to, such as a
/// private copy.
pub fn validate_header(hdr: &GlobalHeader, size: u64) -> Result<()> {
    // SAFETY: a reference is valid, aligned, and guarantees that nobody
    // writes the non-atomic fields while it lives.
    unsafe { validate(hdr, size) }
}

/// Where the claim table of a region of `size` bytes is, from its header:
/// `Ok(None)` when it has none, `EPROTO` when it is not inside the region
/// (12.1; the checks of `dmxp__claims_open()` in `lib/claim.c`).
pub fn claim_table(offset: u64, count: u32, size: u64) -> Result<Option<(u64, u32)>> {
    if count == 0 {
        return Ok(None);
    }
    if count > CLAIMS_MAX
        || offset % BAND_ALIGN != 0
        || offset < HEADER_SIZE as u64
        || offset > size
        || count as u64 * CLAIM_SIZE as u64 > size - offset
    {
        return Err(Errno::EPROTO);
    }
    Ok(Some((offset, count)))
}

/// Records one handle takes from the table at most; a claim that finds
/// them all in use goes on without one (and is not repairable).
pub const POOL: usize = 64;

/// A record's owner on a region file while the record is set up.
const OWNER_SETUP: u32 = 0x8000_0000;

/// This process as a record owner on a region file: its pid, its start
/// time (`/proc/self/stat` field 22 less our time namespace's boottime
/// offset in ticks, as every reader in any time namespace reads it, to a
/// tick: MEMORY_LAYOUT.md 12) and its pid namespace (the inode of
/// `/proc/self/ns/pid`).  0 for what cannot be read: a repairer then
/// takes the owner for alive, and never repairs its claims.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ident {
    pub pid: u32,
    pub start_time: u64,
    pub pid_ns: u64,
}

impl Ident {
    pub fn me() -> Ident {
        // The name (field 2) may hold spaces and parentheses: the fields
        // after it follow the last ')'.  Field 3 is the first one there.
        let start_time = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|st| {
                let rest = &st[st.rfind(')')? + 1..];
                rest.split_ascii_whitespace().nth(22 - 3)?.parse::<i64>().ok()
            })
            .map_or(0, |t| u64::try_from(t - boot_offset()).unwrap_or(0));
        let pid_ns = std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0);
        Ident { pid: std::process::id(), start_time, pid_ns }
    }
}

/// The boottime offset of our time namespace in clock ticks, rounded
/// down: the `boottime <secs> <nsecs>` line of `/proc/self/timens_offsets`;
/// 0 without the file or the line (as `boot_offset()` in `lib/proc.c`).
fn boot_offset() -> i64 {
    let off: i64 = std::fs::read_to_string("/proc/self/timens_offsets")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let mut f = l.split_ascii_whitespace();
                if f.next()? != "boottime" {
                    return None;
                }
                let secs: i64 = f.next()?.parse().ok()?;
                let nsecs: i64 = f.next()?.parse().ok()?;
                secs.checked_mul(1_000_000_000)?.checked_add(nsecs)
            })
        })
        .unwrap_or(0);
    off.div_euclid(1_000_000_000 / sys::clock_ticks())
}

/// A handle's records of the claim table, as `struct dmxp_claims` in
/// `lib/internal.h`: up to [`POOL`] records taken from the table, each
/// lent to one claim at a time (bit i of `busy`: `idx[i]` is lent).
struct Claims {
    /// The table in the mapping; `None`: no table (or an old module).
    table: Option<NonNull<Claim>>,
    count: u32,
    /// `/dev/dmxp`: the file's lease, the owner of our records; 0 on a
    /// region file, where the owner is our pid.
    lease: u32,
    me: Ident,
    busy: AtomicU64,
    /// Records taken; `idx[..n]` are set.
    n: AtomicU32,
    idx: [AtomicU32; POOL],
    /// Serialises taking more records from the table.
    grow: Mutex<()>,
}

impl Claims {
    fn new(table: Option<NonNull<Claim>>, count: u32, lease: u32) -> Claims {
        Claims {
            table,
            count: if table.is_some() { count } else { 0 },
            lease,
            me: if table.is_some() { Ident::me() } else { Ident::default() },
            busy: AtomicU64::new(0),
            n: AtomicU32::new(0),
            idx: [const { AtomicU32::new(0) }; POOL],
            grow: Mutex::new(()),
        }
    }

    /// Record `i` (< `count`) of the table.
    fn at(&self, i: u32) -> Option<&Claim> {
        let t = self.table?;
        debug_assert!(i < self.count);
        // SAFETY: attach checked that `count` records from the table's
        // offset lie inside the mapping, which lives as long as `self`;
        // the offset is a multiple of 64 in a page-aligned mapping, so the
        // record is aligned.  Every field other processes write is atomic
        // (layout.rs), so a shared reference is sound.
        Some(unsafe { &*t.as_ptr().add(i as usize) })
    }

    /// Take a free record of the table for this process (12.2), as
    /// `table_take()` in `lib/claim.c`: its index.
    fn table_take(&self) -> Option<u32> {
        let owner = if self.lease != 0 { self.lease } else { self.me.pid | OWNER_SETUP };
        for i in 0..self.count {
            let rec = self.at(i)?;
            // Relaxed: only a hint, the CAS decides.
            if rec.owner.load(Relaxed) != 0
                || rec.owner.compare_exchange(0, owner, AcqRel, Acquire).is_err()
            {
                continue;
            }
            rec.state.store(CLAIM_IDLE, Relaxed);
            rec.count.store(0, Relaxed);
            rec.start_time.store(self.me.start_time, Relaxed);
            rec.pid_ns.store(self.me.pid_ns, Relaxed);
            // Release: pairs with the acquire load of pid by a repairer
            // that finds the record being set up (`setup_holder()` in
            // lib/claim.c): it judges us by the identity written above.
            rec.pid.store(self.me.pid, Release);
            if self.lease == 0 {
                // Release: pairs with the acquire load of owner by
                // repairers.  A CAS: a repairer that took us for dead took
                // the record over, and it is not ours then.
                if rec.owner.compare_exchange(owner, self.me.pid, Release, Relaxed).is_err() {
                    continue;
                }
            }
            return Some(i);
        }
        None
    }

    /// Lend a record of the pool, taking one more from the table if all
    /// are lent: its pool bit, or `None` (no table, or none left).
    fn take(&self) -> Option<u32> {
        self.table?;
        let mut busy = self.busy.load(Relaxed);
        loop {
            // Acquire: pairs with the release store of n below (idx[] set).
            let n = self.n.load(Acquire);
            let all = if n as usize == POOL { !0 } else { (1u64 << n) - 1 };
            let avail = !busy & all;
            if avail == 0 {
                break;
            }
            let bit = avail.trailing_zeros();
            // Acquire: pairs with the release in put(): the record's last
            // user is done with it before we write it.
            match self.busy.compare_exchange_weak(busy, busy | 1 << bit, Acquire, Relaxed) {
                Ok(_) => return Some(bit),
                Err(b) => busy = b,
            }
        }
        let _g = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.n.load(Relaxed);
        if n as usize >= POOL {
            return None;
        }
        let i = self.table_take()?;
        self.idx[n as usize].store(i, Relaxed);
        self.busy.fetch_or(1 << n, Relaxed);
        self.n.store(n + 1, Release);
        Some(n)
    }

    /// Give pool bit `bit` back.  Release: pairs with the acquire CAS in
    /// take().
    fn put(&self, bit: u32) {
        self.busy.fetch_and(!(1u64 << bit), Release);
    }

    fn rec(&self, bit: u32) -> Option<&Claim> {
        self.at(self.idx[bit as usize].load(Relaxed))
    }

    /// Give the records back to the table, as `table_put()`; one still
    /// holding slots (a claim cut short) is left for a repairer.
    fn close(&self) {
        for b in 0..self.n.load(Acquire) {
            if let Some(rec) = self.rec(b) {
                // Acquire: pairs with the release store that ended the claim.
                if rec.state.load(Acquire) == CLAIM_IDLE {
                    // No stale identity for the record's next owner: a
                    // record being set up is judged by its pid (table_take).
                    rec.pid.store(0, Relaxed);
                    // Release: pairs with the acquire CAS of owner by the
                    // next taker.
                    rec.owner.store(0, Release);
                }
            }
        }
    }
}

/// A record lent to one claim: [`Record::start`] before it, [`Record::at`]
/// before each CAS attempt, [`Record::written`] once the messages are
/// complete, [`Record::end`] after publishing or freeing.  Empty (every
/// call does nothing) when the region has no table.  Back to the pool
/// when dropped, unless its claim was not ended: then the record keeps
/// naming the slots, for a repairer once this process is gone; or unless
/// a repairer took it over ([`Record::end_repaired`]).
pub struct Record<'r> {
    claims: &'r Claims,
    bit: u32,
    rec: Option<&'r Claim>,
    /// Taken over by a repairer: never written again, its bit stays lent.
    lost: Cell<bool>,
}

impl Record<'_> {
    /// Start a claim of `state` (`CLAIM_SEND` or `CLAIM_RECV`) on channel
    /// `chan` of generation `generation`.
    pub fn start(&self, chan: u32, generation: u32, state: u32) {
        if let Some(r) = self.rec {
            r.chan.store(chan, Relaxed);
            r.generation.store(generation, Relaxed);
            r.state.store(state, Relaxed);
        }
    }

    /// [R1]: positions `[pos, pos + n)` are about to be claimed.  Relaxed:
    /// ordered before the claim by its release CAS ([R2]).
    pub fn at(&self, pos: u64, n: u32) {
        if let Some(r) = self.rec {
            r.pos.store(pos, Relaxed);
            r.count.store(n, Relaxed);
        }
    }

    /// The messages claimed are complete: a repairer would deliver them.
    /// Release: pairs with the repairer's acquire load of the state.
    pub fn written(&self) {
        if let Some(r) = self.rec {
            r.state.store(CLAIM_SEND_WRITTEN, Release);
        }
    }

    /// [R3]: the claim is over, its slots published or freed.  Release:
    /// pairs with the repairers' acquire load of the state, which then see
    /// the slots' new sequences too.
    pub fn end(&self) {
        if let Some(r) = self.rec {
            r.state.store(CLAIM_IDLE, Release);
        }
    }

    /// [R3] after a slot of the claim was found repaired: a repairer took
    /// this process for dead and may have taken the record over too, as
    /// `dmxp__claim_kept()` in `lib/claim.c` says.  Then it is not ours to
    /// end, and it never goes back to the pool.
    pub fn end_repaired(&self) {
        if let Some(r) = self.rec {
            let c = self.claims;
            let me = if c.lease != 0 { c.lease } else { c.me.pid };
            // Relaxed: the repairer's takeover is what we look for, and it
            // is its CAS on owner; nothing else is read from the record.
            if r.owner.load(Relaxed) == me {
                self.end();
            } else {
                self.lost.set(true);
            }
        }
    }

    /// The record's index in the table, `None` for an empty record.
    pub fn index(&self) -> Option<u32> {
        self.rec.map(|_| self.claims.idx[self.bit as usize].load(Relaxed))
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        if self.lost.get() {
            return;
        }
        if let Some(r) = self.rec {
            // Relaxed: our own last store.
            if r.state.load(Relaxed) == CLAIM_IDLE {
                self.claims.put(self.bit);
            }
        }
    }
}

impl Region {
    /// Attach to the region at `path`: a file, `/dev/dmxp` (the kernel's
    /// default region) or `/dev/dmxp:NAME`.
    pub fn attach(path: &str) -> Result<Region> {
        if path == DEVICE || path.starts_with("/dev/dmxp:") {
            Self::attach_kernel(path)
        } else {
            Self::attach_file(path)
        }
    }

    /// 2.3: open read-write, check with fstat that it is a regular file of
    /// a plausible size, map the whole file shared, validate.
    fn attach_file(path: &str) -> Result<Region> {
        // std opens with O_CLOEXEC.
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let md = file.metadata()?;
        if !md.file_type().is_file() || md.len() < HEADER_SIZE as u64 || md.len() > REGION_SIZE_MAX
        {
            return Err(Errno::EPROTO);
        }
        let size = usize::try_from(md.len()).map_err(|_| Errno::EPROTO)?;
        let base = sys::map_shared(file.as_fd(), size)?;
        // The mapping stays valid when `file` is closed, on return.
        Self::validated(base, md.len(), path, Backend::File, 0)
    }

    /// The kernel backend: open `/dev/dmxp`, version handshake, attach the
    /// named region (binds the file to it), map it.  The memory has the
    /// same layout and is validated the same way.
    fn attach_kernel(path: &str) -> Result<Region> {
        let name = match path.strip_prefix("/dev/dmxp:") {
            None => DEFAULT_KERNEL_REGION,
            Some(n) if !n.is_empty() && n.len() < NAME_MAX => n,
            Some(_) => return Err(Errno::EINVAL),
        };
        let dev =
            OpenOptions::new().read(true).write(true).open(DEVICE).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Errno::ENODEV,
                _ => Errno::from(e),
            })?;
        let mut v = IocVersion { version: VERSION, ..Default::default() };
        // SAFETY: IOC_VERSION takes a struct dmxp_ioc_version, which
        // IocVersion is (layout.rs checks it against the C header).
        unsafe { sys::ioctl_ptr(dev.as_fd(), IOC_VERSION, &mut v) }.map_err(|e| match e {
            Errno::EPROTONOSUPPORT | Errno::ENOTTY => Errno::EPROTO,
            e => e,
        })?;
        handshake_answer(&v)?;
        let mut rq = IocRegion::default();
        rq.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: IOC_REGION_ATTACH takes a struct dmxp_ioc_region.
        unsafe { sys::ioctl_ptr(dev.as_fd(), IOC_REGION_ATTACH, &mut rq) }?;
        if rq.size < HEADER_SIZE as u64 || rq.size > isize::MAX as u64 {
            return Err(Errno::EPROTO);
        }
        let base = sys::map_shared(dev.as_fd(), rq.size as usize)?;
        // The lease names this file as the owner of our claim records; 0
        // is a module that repairs nothing: then records would be noise.
        Self::validated(base, rq.size, path, Backend::Kernel(dev), rq.lease)
    }

    /// Wrap the mapping `base` of `size` bytes, validate its header, and
    /// find its claim table.
    fn validated(
        base: NonNull<u8>,
        size: u64,
        path: &str,
        backend: Backend,
        lease: u32,
    ) -> Result<Region> {
        let kernel = matches!(backend, Backend::Kernel(_));
        // Dropping `region` on failure unmaps.
        let mut region = Region {
            base: base.cast(),
            size: size as usize,
            backend,
            path: path.to_string(),
            claims: Claims::new(None, 0, 0),
        };
        // SAFETY: the mapping is `size >= HEADER_SIZE` bytes, page-aligned.
        unsafe { validate(region.base.as_ptr(), size) }?;
        let h = region.header();
        if let Some((off, count)) = claim_table(h.claims_offset, h.claims_count, size)? {
            if !kernel || lease != 0 {
                let table = NonNull::new(region.at(off).cast::<Claim>()).ok_or(Errno::EPROTO)?;
                region.claims = Claims::new(Some(table), count, lease);
            }
        }
        Ok(region)
    }

    /// The path this region was attached with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The size of the mapping in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A claim record for one claim of the calling thread (see
    /// [`Record`]).  Each concurrent claim gets its own record: at most
    /// [`POOL`] at once.  `ENOBUFS` when the region has a claim table and
    /// no record is left (the pool is lent out, or the table is full): a
    /// claim that no record names could not be repaired, and a repairer
    /// could take it for a dead process's, so nothing is claimed.
    pub fn record(&self) -> Result<Record<'_>> {
        let bit = self.claims.take();
        if bit.is_none() && self.claims.table.is_some() {
            return Err(Errno::ENOBUFS);
        }
        Ok(Record {
            claims: &self.claims,
            bit: bit.unwrap_or(0),
            rec: bit.and_then(|b| self.claims.rec(b)),
            lost: Cell::new(false),
        })
    }

    /// The claim table (empty when there is none or it is not used), the
    /// lease of our records (0 on a region file) and our identity.
    pub fn claims(&self) -> (&[Claim], u32, Ident) {
        let c = &self.claims;
        let table = match c.table {
            // SAFETY: as in Claims::at(), for all `count` records.
            Some(t) => unsafe { std::slice::from_raw_parts(t.as_ptr(), c.count as usize) },
            None => &[],
        };
        (table, c.lease, c.me)
    }

    /// The kernel region's `/dev/dmxp` file, `None` for a region file.
    pub fn kernel_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.backend {
            Backend::Kernel(f) => Some(f.as_fd()),
            Backend::File => None,
        }
    }

    /// The header.
    pub fn header(&self) -> &GlobalHeader {
        // SAFETY: the mapping holds a validated header and lives as long as
        // `self`.  A shared reference is sound: every field other processes
        // write after creation is atomic (layout.rs), the plain ones are
        // never written again.
        unsafe { self.base.as_ref() }
    }

    /// The entry of channel `id` (< 256).
    pub fn entry(&self, id: u32) -> &ChannelEntry {
        &self.header().channels[id as usize]
    }

    /// The address `offset` bytes into the mapping.  The caller checks
    /// that what it accesses there lies inside [`Region::size`].
    pub(crate) fn at(&self, offset: u64) -> *mut u8 {
        debug_assert!(offset <= self.size as u64);
        self.base.as_ptr().cast::<u8>().wrapping_add(offset as usize)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.claims.close();
        // SAFETY: `base`/`size` are the mapping made in `map`; every
        // reference into it borrows `self`, so none outlives this.
        unsafe { sys::unmap(self.base.cast(), self.size) };
    }
}
