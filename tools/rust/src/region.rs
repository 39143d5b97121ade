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

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::layout::{
    ChannelEntry, GlobalHeader, IocRegion, IocVersion, BAND_ALIGN, CAPACITY_MAX, CAPACITY_MIN,
    CHAN_CREATED, CHAN_FLAGS_KNOWN, DEFAULT_KERNEL_REGION, DEFAULT_REGION, DEVICE, HEADER_SIZE,
    IOC_REGION_ATTACH, IOC_VERSION, MAGIC, MAX_CHANNELS, NAME_MAX, REGION_ENV, REGION_SIZE_MAX,
    SLOT_SIZE, VERSION,
};
use crate::sys::{self, Errno, Result};

/// Where the region's memory comes from.
pub enum Backend {
    /// A region file (normally on tmpfs); sleepers use the futex words.
    File,
    /// A kernel region: the `/dev/dmxp` file bound to it, kept open for
    /// `DMXP_IOC_NOTIFY` and `DMXP_IOC_CHAN_FD`.
    Kernel(File),
}

/// An attached, validated region.  Unmapped when dropped.
pub struct Region {
    base: NonNull<GlobalHeader>,
    size: usize,
    backend: Backend,
    path: String,
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
        Self::validated(base, md.len(), path, Backend::File)
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
        let mut rq = IocRegion::default();
        rq.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: IOC_REGION_ATTACH takes a struct dmxp_ioc_region.
        unsafe { sys::ioctl_ptr(dev.as_fd(), IOC_REGION_ATTACH, &mut rq) }?;
        if rq.size < HEADER_SIZE as u64 || rq.size > isize::MAX as u64 {
            return Err(Errno::EPROTO);
        }
        let base = sys::map_shared(dev.as_fd(), rq.size as usize)?;
        Self::validated(base, rq.size, path, Backend::Kernel(dev))
    }

    /// Wrap the mapping `base` of `size` bytes, and validate its header.
    fn validated(base: NonNull<u8>, size: u64, path: &str, backend: Backend) -> Result<Region> {
        // Dropping `region` on failure unmaps.
        let region =
            Region { base: base.cast(), size: size as usize, backend, path: path.to_string() };
        // SAFETY: the mapping is `size >= HEADER_SIZE` bytes, page-aligned.
        unsafe { validate(region.base.as_ptr(), size) }?;
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
        // SAFETY: `base`/`size` are the mapping made in `map`; every
        // reference into it borrows `self`, so none outlives this.
        unsafe { sys::unmap(self.base.cast(), self.size) };
    }
}
