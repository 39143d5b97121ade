//! Channels: open (MEMORY_LAYOUT.md 10.4), send (7.2), receive (7.3),
//! tombstones (9.1) and both halves of the wake protocol (11).
//!
//! The four accesses that carry the ring's memory ordering are tagged as
//! in the document and in `lib/ring.c`:
//!
//! ```text
//! producer  seq = load(slot.sequence, Acquire)           [P1]  pairs with [C2]
//!           rec = { SEND, chan, generation, pos, 1 }     [R1]
//!           CAS(tail, pos -> pos + 1, Release)           [R2]  claim
//!           write meta and payload (plain, the slot is ours)
//!           store(rec.state, SEND_WRITTEN, Release)
//!           CAS(slot.sequence, pos -> pos + 1, Release)  [P2]  pairs with [C1]
//!           store(rec.state, IDLE, Release)              [R3]
//! consumer  seq = load(slot.sequence, Acquire)           [C1]  pairs with [P2]
//!           rec = { RECV, chan, generation, pos, 1 }     [R1]
//!           CAS(head, pos -> pos + 1, Release)           [R2]  claim
//!           read meta and payload (plain, the slot is ours)
//!           CAS(slot.sequence, pos + 1 -> pos + capacity, Release) [C2] pairs with [P1]
//!           store(rec.state, IDLE, Release)              [R3]
//! ```
//!
//! [P2] and [C2] are a CAS from the state the claim left, as in
//! `lib/ring.c`: a slot that a repairer took from a live claimer (believing
//! it dead) has moved on, maybe by a lap, and a store would rewind it and
//! stop the ring for good.  The call returns `ECANCELED` instead (the
//! message is lost) and the ring goes on.  With a claim table, a call that
//! gets no record claims nothing: `ENOBUFS`.
//!
//! `rec` is a record of the region's claim table lent to this one call
//! ([`crate::region::Record`]): if the process dies between [R2] and [R3],
//! a repairer finds the claim there and publishes, tombstones or frees the
//! slot (MEMORY_LAYOUT.md 12.3, 12.4).  The CAS is a release so that a repairer that
//! sees `tail` (`head`) past `pos` also sees [R1].
//!
//! and the wake protocol's two full fences, as in `lib/wait.c`:
//!
//! ```text
//! waker     publish or free; fence(SeqCst)               [W1]  pairs with [S1]
//!           if waiters != 0: futex word += 1; FUTEX_WAKE (kernel: DMXP_IOC_NOTIFY)
//! sleeper   waiters += 1; ev = futex word; fence(SeqCst) [S1]  pairs with [W1]
//!           re-check the ring; FUTEX_WAIT(word, ev) (kernel: poll the channel fd)
//!           waiters -= 1
//! ```
//!
//! The re-check reads `head` (`tail`) again while the slot there was
//! taken since (its sequence is past the position), as `lib/wait.c`: a
//! message (free slot) published before the announcement may be at the
//! next position, and nobody would wake us for it.  Sleeps last at most
//! [`SLEEP_SLICE_NS`], so that a peer that never wakes anyone is still
//! heard from within about a second.
//!
//! A [`Channel`] keeps its own copies of `capacity`, the slot base and the
//! `generation` read at open, never re-reads them from the entry, and
//! checks the generation before every claim (`EIDRM` once the channel was
//! destroyed, 10.6).  Errors are the C library's: `EAGAIN` (full, empty),
//! `EMSGSIZE`, `EIDRM`, `EPROTO` (a state the protocol excludes, 7.4).

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicU16, AtomicU32, AtomicU64};
use std::sync::OnceLock;
use std::time::Duration;

use crate::layout::{
    ChannelEntry, IocChanFd, IocNotify, MessageMeta, Runtime, Slot, CHAN_CREATED, CHAN_FD_NONBLOCK,
    CLAIM_RECV, CLAIM_SEND, IOC_CHAN_FD, IOC_NOTIFY, MAX_CHANNELS, MAX_PAYLOAD, MSG_TOMBSTONE,
    NOTIFY_RECV, NOTIFY_SEND,
};
use crate::region::{band_ok, Record, Region};
use crate::sys::{self, Errno, Result};

/// One side of a channel, for the wake protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Consumers, waiting for a message: `recv_waiters`, `recv_futex`.
    Recv,
    /// Producers, waiting for a free slot: `send_waiters`, `send_futex`.
    Send,
}

/// How many times a blocking call checks the ring before it sleeps, and
/// after how many checks it yields the CPU once.
const SPIN_CHECKS: u32 = 256;
const SPIN_YIELD_AT: u32 = 128;

/// Positions taken under one re-check before it gives up and says
/// "ready" (the caller retries rather than sleeps), as `lib/wait.c`.
const READY_RETRIES: u32 = 16;

/// The longest sleep: then the sleeper looks at the ring by itself.
pub const SLEEP_SLICE_NS: u64 = 1_000_000_000;

/// An open channel.  Several threads may share one handle (`Sync`), and
/// any number of handles, threads and processes may use one channel.
pub struct Channel<'r> {
    region: &'r Region,
    entry: &'r ChannelEntry,
    slots: NonNull<Slot>,
    capacity: u64,
    mask: u64,
    id: u32,
    generation: u32,
    pid: u32,
    runtime: u16,
    /// A kernel region's channel fd, to sleep in poll(); opened on first use.
    chan_fd: OnceLock<OwnedFd>,
    sleeps: AtomicU64,
    wakes: AtomicU64,
}

// SAFETY: `slots` points into the region's shared mapping (borrowed for
// 'r); the handle's own fields are immutable or atomic, and slots are
// accessed only by the thread that owns them by the ring protocol, which
// is what makes sharing the ring between processes sound in the first
// place.
unsafe impl Send for Channel<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for Channel<'_> {}

impl<'r> Channel<'r> {
    /// Open channel `id`: a consistent snapshot of its entry by the seqlock
    /// read of 10.4, then the band check (2.3).
    ///
    /// `ENOENT` if the channel is not created (or being created or
    /// destroyed), `EINVAL` if `id >= 256`, `EPROTO` if the entry fails the
    /// band check, `EBUSY` if it kept changing for 1,000 tries.
    pub fn open(region: &'r Region, id: u32) -> Result<Channel<'r>> {
        if id as usize >= MAX_CHANNELS {
            return Err(Errno::EINVAL);
        }
        let e = region.entry(id);
        for _ in 0..1000 {
            // Acquire: the seqlock's read side; the loads below are not
            // reordered before it.
            let g1 = e.generation.load(Acquire);
            // Acquire: pairs with the release store of flags = CREATED that
            // ends a create (10.2 step 7): the ring, capacity, band_offset,
            // tail = head = 0 it wrote are visible.
            let f1 = e.flags.load(Acquire);
            if f1 & CHAN_CREATED == 0 {
                return Err(Errno::ENOENT);
            }
            // Relaxed: validated by the generation re-check below.
            let cap = e.capacity.load(Relaxed);
            let boff = e.band_offset.load(Relaxed);
            // Pairs with the release fence a creator or destroyer issues
            // right after bumping the generation (10.2 step 2): if either
            // load above saw a write made after that bump, g2 sees it.
            fence(Acquire);
            let f2 = e.flags.load(Relaxed);
            let g2 = e.generation.load(Relaxed);
            if g1 != g2 || f1 != f2 {
                continue; // changed while read: again
            }
            if f1 != CHAN_CREATED || !band_ok(cap, boff, region.size() as u64) {
                return Err(Errno::EPROTO);
            }
            let slots = NonNull::new(region.at(boff).cast::<Slot>()).ok_or(Errno::EPROTO)?;
            return Ok(Channel {
                region,
                entry: e,
                slots,
                capacity: cap,
                mask: cap - 1,
                id,
                generation: g1,
                pid: std::process::id(),
                runtime: Runtime::Rust as u16,
                chan_fd: OnceLock::new(),
                sleeps: AtomicU64::new(0),
                wakes: AtomicU64::new(0),
            });
        }
        Err(Errno::EBUSY)
    }

    /// The channel id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Slots of the ring.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The entry's generation when this handle was opened.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// How many times blocking calls on this handle slept, and how many
    /// wake-ups (futex wakes or notify ioctls) its sends and receives made.
    pub fn stats(&self) -> (u64, u64) {
        (self.sleeps.load(Relaxed), self.wakes.load(Relaxed))
    }

    /// S1/R1: `EIDRM` once the channel was destroyed (and maybe created
    /// again) since this handle was opened (10.6).
    fn check(&self) -> Result<()> {
        // Relaxed: a hint checked before each claim, as the library does.
        if self.entry.generation.load(Relaxed) != self.generation {
            return Err(Errno::EIDRM);
        }
        Ok(())
    }

    /// The slot of position `pos`.
    fn slot(&self, pos: u64) -> *mut Slot {
        // SAFETY: `pos & mask < capacity`, and open() checked that
        // `capacity` slots from `band_offset` lie inside the mapping.
        unsafe { self.slots.as_ptr().add((pos & self.mask) as usize) }
    }

    /// The atomic `sequence` of a slot of this ring.
    fn sequence(&self, s: *mut Slot) -> &AtomicU64 {
        // SAFETY: `s` comes from slot(), inside the mapping that outlives
        // `self`; only the atomic field is borrowed, never the plain
        // meta and payload that other processes write.
        unsafe { &(*s).sequence }
    }

    /// S2-S3: claim the next free position, naming it in `rec` first.
    /// `EAGAIN` when the ring is full.
    fn claim_produce(&self, rec: &Record<'_>) -> Result<(u64, *mut Slot)> {
        let tail = &self.entry.tail;
        // S2.  Relaxed: only a guess, checked by the sequence and the CAS.
        let mut pos = tail.load(Relaxed);
        loop {
            let s = self.slot(pos);
            // [P1] Acquire: pairs with the consumer's [C2] release store
            // that freed the slot: its reads of the slot are complete before
            // we write into it.
            let seq = self.sequence(s).load(Acquire);
            let diff = seq.wrapping_sub(pos) as i64;
            if diff == 0 {
                // [R1], then the claim.  The CAS only decides which
                // producer owns `pos`; no data travels through `tail`
                // (8.1).  Release [R2]: a repairer that sees `tail` past
                // `pos` sees [R1] too.
                rec.at(pos, 1);
                match tail.compare_exchange_weak(pos, pos.wrapping_add(1), Release, Relaxed) {
                    Ok(_) => return Ok((pos, s)),
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                // The slot still holds the previous lap: full.
                return Err(Errno::EAGAIN);
            } else {
                // Another producer claimed `pos` and moved `tail` before it
                // published; a `tail` still at `pos` contradicts the
                // protocol (7.4).  Relaxed as in S2.
                let cur = tail.load(Relaxed);
                if cur == pos {
                    return Err(Errno::EPROTO);
                }
                pos = cur;
            }
        }
    }

    /// S4: write the payload, then the meta (as libdmxp: the meta lies next
    /// to the sequence, on the line a polling consumer reads).
    ///
    /// # Safety
    ///
    /// `s` is the slot of `pos`, claimed by this thread and not published.
    unsafe fn fill(&self, s: *mut Slot, pos: u64, payload: &[u8], msg_type: u32, flags: u16) {
        debug_assert!(payload.len() <= MAX_PAYLOAD);
        // SAFETY: the slot is ours between the claim and [P2]; everything
        // is written through raw pointers to its fields (no reference to
        // the plain bytes), within the 960-byte payload.
        unsafe {
            ptr::copy_nonoverlapping(
                payload.as_ptr(),
                (&raw mut (*s).payload).cast::<u8>(),
                payload.len(),
            );
            let m = &raw mut (*s).meta;
            (&raw mut (*m).message_id).write(pos);
            (&raw mut (*m).timestamp_ns).write(sys::monotonic_ns());
            (&raw mut (*m).channel_id).write(self.id);
            (&raw mut (*m).message_type).write(msg_type);
            (&raw mut (*m).sender_pid).write(self.pid);
            (&raw mut (*m).sender_runtime).write(self.runtime);
            (&raw mut (*m).pad).write(0);
            // Relaxed atomic stores, as libdmxp's atomic stores in dmxp__meta_fill():
            // a C consumer that saw this slot ready one lap ago may still
            // load these two (its length check before claiming, 9.4) until
            // its CAS fails.  Ordered before the publish by [P2].
            AtomicU16::from_ptr(&raw mut (*m).flags).store(flags, Relaxed);
            AtomicU32::from_ptr(&raw mut (*m).payload_len).store(payload.len() as u32, Relaxed);
        }
    }

    /// S1-S4 with the claim record: claim a slot and write the message (a
    /// tombstone if `flags` says so) into it, unpublished.  On error the
    /// record is ended: nothing is claimed.
    fn produce(
        &self,
        rec: &Record<'_>,
        payload: &[u8],
        msg_type: u32,
        flags: u16,
    ) -> Result<(u64, *mut Slot)> {
        self.check()?; // S1
        rec.start(self.id, self.generation, CLAIM_SEND);
        // S2, S3
        let (pos, s) = self.claim_produce(rec).inspect_err(|_| rec.end())?;
        // S4.  SAFETY: claim_produce() just gave us `s`, the slot of `pos`.
        unsafe { self.fill(s, pos, payload, msg_type, flags) };
        if flags & MSG_TOMBSTONE == 0 {
            // Whole: a repairer would deliver it (a tombstone's repair is
            // a tombstone anyway, as for libdmxp's abort).
            rec.written();
        }
        Ok((pos, s))
    }

    /// S5: publish the slot of `pos`, end the claim, wake consumers.
    /// `ECANCELED` when a repairer took the slot and the message is lost.
    fn publish(&self, rec: &Record<'_>, pos: u64, s: *mut Slot) -> Result<()> {
        // [P2] Release: publishes the meta and payload written before;
        // pairs with the consumer's [C1] acquire load.  A CAS from the
        // claimed state: a repaired slot is never rewound.
        let r = match self.sequence(s).compare_exchange(pos, pos.wrapping_add(1), Release, Relaxed)
        {
            Ok(_) => {
                rec.end(); // [R3]
                Ok(())
            }
            Err(seq) => {
                rec.end_repaired();
                self.publish_repaired(s, pos, seq)
            }
        };
        self.wake(Side::Recv, 1);
        r
    }

    /// The publish of `pos` found the slot at `seq`: a repairer took it.
    /// One that found the message whole published it (`pos + 1`, our
    /// meta); else it is a tombstone.  `Ok` when delivered, `ECANCELED`
    /// when not, or when it can no longer be told (already consumed).
    fn publish_repaired(&self, s: *mut Slot, pos: u64, seq: u64) -> Result<()> {
        if seq != pos.wrapping_add(1) {
            return Err(Errno::ECANCELED);
        }
        // Acquire: pairs with the repairer's release of the sequence, which
        // the failed CAS read: its meta is visible.
        fence(Acquire);
        // SAFETY: an atomic load of a field inside the mapping; a consumer
        // may free the slot and a producer write it meanwhile, which the
        // sequence check below detects.
        let flags = unsafe { AtomicU16::from_ptr(&raw mut (*s).meta.flags) }.load(Relaxed);
        // Acquire: the flags were read before the sequence is checked again.
        fence(Acquire);
        if self.sequence(s).load(Relaxed) != pos.wrapping_add(1) || flags & MSG_TOMBSTONE != 0 {
            return Err(Errno::ECANCELED);
        }
        Ok(())
    }

    /// Send one message (7.2).  Returns its position (its `message_id`).
    ///
    /// `EAGAIN` ring full, `EMSGSIZE` more than 960 bytes (nothing is
    /// touched), `EIDRM` channel destroyed, `EPROTO`, `ENOBUFS` no claim
    /// record left, `ECANCELED` a repairer took the slot (lost).
    pub fn send(&self, payload: &[u8], msg_type: u32) -> Result<u64> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE); // S0
        }
        let rec = self.region.record()?;
        let (pos, s) = self.produce(&rec, payload, msg_type, 0)?;
        self.publish(&rec, pos, s)?;
        Ok(pos)
    }

    /// Claim a position and publish it as a tombstone (9.1), as
    /// `dmxp_chan_abort()` does: consumers claim, free and skip it.
    pub fn send_tombstone(&self) -> Result<u64> {
        let rec = self.region.record()?;
        let (pos, s) = self.produce(&rec, &[], 0, MSG_TOMBSTONE)?;
        // A consumer asleep behind the tombstone is woken to skip it.  A
        // slot a repairer took is a tombstone anyway: what was asked for.
        let _ = self.publish(&rec, pos, s);
        Ok(pos)
    }

    /// For the crash-repair test: claim a slot as [`Channel::send`] does
    /// and write `payload` into it (with `written`, marking the record
    /// `SEND_WRITTEN`), but never publish it.  Returns the position and
    /// the record, which names the claim for as long as it lives; the
    /// caller is meant to be killed holding it.
    pub fn claim_unpublished(&self, payload: &[u8], written: bool) -> Result<(u64, Record<'r>)> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        let rec = self.region.record()?;
        if rec.index().is_none() {
            return Err(Errno::ENOENT); // no record: nothing to repair
        }
        self.check()?;
        rec.start(self.id, self.generation, CLAIM_SEND);
        let (pos, s) = self.claim_produce(&rec).inspect_err(|_| rec.end())?;
        if written {
            // SAFETY: claim_produce() just gave us `s`, the slot of `pos`.
            unsafe { self.fill(s, pos, payload, 0, 0) };
            rec.written();
        }
        Ok((pos, rec))
    }

    /// R2-R3: claim the next published position, naming it in `rec`
    /// first.  `EAGAIN` when empty.
    fn claim_consume(&self, rec: &Record<'_>) -> Result<(u64, *mut Slot)> {
        let head = &self.entry.head;
        // R2.  Relaxed: a guess, checked by the sequence and the CAS.
        let mut pos = head.load(Relaxed);
        loop {
            let s = self.slot(pos);
            // [C1] Acquire: pairs with the producer's [P2] release store:
            // seeing `pos + 1` we see every byte it wrote before.
            let seq = self.sequence(s).load(Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as i64;
            if diff == 0 {
                // [R1], then the claim: ownership only (8.1).  Release
                // [R2], as in claim_produce().
                rec.at(pos, 1);
                match head.compare_exchange_weak(pos, pos.wrapping_add(1), Release, Relaxed) {
                    Ok(_) => return Ok((pos, s)),
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                // Not yet published: empty at this position.
                return Err(Errno::EAGAIN);
            } else {
                // Another consumer took `pos`; see claim_produce().
                let cur = head.load(Relaxed);
                if cur == pos {
                    return Err(Errno::EPROTO);
                }
                pos = cur;
            }
        }
    }

    /// Receive the oldest message into `buf` (7.3), skipping tombstones.
    /// Returns its metadata, with `payload_len` clamped to 960: the payload
    /// is `buf[..meta.payload_len]`.
    ///
    /// `EAGAIN` ring empty, `EIDRM` channel destroyed, `EPROTO`,
    /// `ENOBUFS` no claim record left, `ECANCELED` a repairer freed the
    /// slot under us (`buf` may hold a later message's bytes).
    pub fn recv(&self, buf: &mut [u8; MAX_PAYLOAD]) -> Result<MessageMeta> {
        let rec = self.region.record()?;
        rec.start(self.id, self.generation, CLAIM_RECV);
        let r = self.recv_claimed(&rec, buf);
        if r == Err(Errno::ECANCELED) {
            rec.end_repaired();
        } else {
            // [R3] every slot claimed was freed (or none was claimed).
            rec.end();
        }
        r
    }

    /// [`Channel::recv`] with its claim record started.
    fn recv_claimed(&self, rec: &Record<'_>, buf: &mut [u8; MAX_PAYLOAD]) -> Result<MessageMeta> {
        loop {
            // R1, then R2 and R3.
            self.check()?;
            let (pos, s) = self.claim_consume(rec)?;
            // R4.  SAFETY: the slot is ours between the claim and [C2]:
            // no producer writes it, so plain reads through raw pointers
            // are race-free; the copy is clamped to the payload's 960 bytes.
            let meta = unsafe {
                let mut meta = (&raw const (*s).meta).read();
                meta.payload_len = meta.payload_len.min(MAX_PAYLOAD as u32);
                if meta.flags & MSG_TOMBSTONE == 0 {
                    ptr::copy_nonoverlapping(
                        (&raw const (*s).payload).cast::<u8>(),
                        buf.as_mut_ptr(),
                        meta.payload_len as usize,
                    );
                }
                meta
            };
            // R5 [C2] Release: our reads of the slot are complete before it
            // is handed back; pairs with the next producer's [P1] acquire.
            // A CAS from the claimed state: a slot a repairer freed already
            // (and a producer may have filled again) is not rewound.
            let freed = self.sequence(s).compare_exchange(
                pos.wrapping_add(1),
                pos.wrapping_add(self.capacity),
                Release,
                Relaxed,
            );
            self.wake(Side::Send, 1);
            if meta.flags & MSG_TOMBSTONE == 0 {
                return match freed {
                    Ok(_) => Ok(meta), // R6
                    Err(_) => Err(Errno::ECANCELED),
                };
            }
        }
    }

    fn waiters(&self, side: Side) -> &AtomicU32 {
        match side {
            Side::Recv => &self.entry.recv_waiters,
            Side::Send => &self.entry.send_waiters,
        }
    }

    fn futex_word(&self, side: Side) -> &AtomicU32 {
        match side {
            Side::Recv => &self.entry.recv_futex,
            Side::Send => &self.entry.send_futex,
        }
    }

    /// The waker's half of the wake protocol (11), after publishing
    /// ([`Side::Recv`]: wake consumers) or freeing ([`Side::Send`]: wake
    /// producers) `n` slots.  No system call unless someone sleeps.
    fn wake(&self, side: Side, n: u32) {
        // [W1] a full fence: pairs with the sleeper's [S1] (announce()
        // here, chan_announce() in lib/wait.c).  Store-buffering: either
        // the sleeper's re-check sees our release store to the sequence,
        // or the load below sees its increment of the waiter count.
        fence(SeqCst);
        // Relaxed: ordered after our sequence store by [W1].
        if self.waiters(side).load(Relaxed) == 0 {
            return;
        }
        self.wakes.fetch_add(1, Relaxed);
        match self.region.kernel_fd() {
            None => {
                let word = self.futex_word(side);
                // Change the word before waking: a sleeper that loaded the
                // old value either fails FUTEX_WAIT with EAGAIN or is asleep
                // and woken.  SeqCst, as lib/wait.c.
                word.fetch_add(1, SeqCst);
                // Every sleeper, not n: a wake-up given to one sleeper for
                // one message can be spent on another (lib/wait.c).
                let _ = n;
                sys::futex_wake(word, u32::MAX);
            }
            Some(dev) => {
                let flags = if side == Side::Recv { NOTIFY_RECV } else { NOTIFY_SEND };
                let mut rq = IocNotify { id: self.id, flags, reserved: 0 };
                // SAFETY: IOC_NOTIFY takes a struct dmxp_ioc_notify.  A
                // failure (the region was destroyed) leaves nobody to wake.
                let _ = unsafe { sys::ioctl_ptr(dev, IOC_NOTIFY, &mut rq) };
            }
        }
    }

    /// Whether the ring has a message at `head` ([`Side::Recv`]) or a free
    /// slot at `tail` ([`Side::Send`]): the sleeper's re-check.
    fn ready(&self, side: Side) -> bool {
        let (at, recv) = match side {
            Side::Recv => (&self.entry.head, true),
            Side::Send => (&self.entry.tail, false),
        };
        for _ in 0..READY_RETRIES {
            // Relaxed: a guess, checked by the sequence.  Acquire as
            // [C1]/[P1], pairing with [P2]/[C2]: a sequence past the
            // position was stored after its claimer moved head (tail) on,
            // so the next round reads the moved value.
            let pos = at.load(Relaxed);
            let want = if recv { pos.wrapping_add(1) } else { pos };
            let diff = self.sequence(self.slot(pos)).load(Acquire).wrapping_sub(want) as i64;
            if diff == 0 {
                return true;
            }
            if diff < 0 {
                return false; // empty (full)
            }
            // Taken since we read it: the next position may be ready.
        }
        true // unknown: the caller tries again rather than sleep on it
    }

    /// Sleeper steps 1-4 (11).  `Some(ev)` when the caller is now counted
    /// in the waiter word and may sleep on the futex word while it holds
    /// `ev`; `None` when the ring is ready or the channel is gone (not
    /// counted: try again).
    fn announce(&self, side: Side) -> Option<u32> {
        let waiters = self.waiters(side);
        waiters.fetch_add(1, SeqCst); // 1. announce
        let ev = self.futex_word(side).load(SeqCst); // 2.
                                                     // 3. [S1] a full fence: pairs with the waker's [W1].
        fence(SeqCst);
        // 4. re-check the ring (and the generation: a destroy wakes us).
        if self.ready(side) || self.check().is_err() {
            waiters.fetch_sub(1, SeqCst);
            return None;
        }
        Some(ev)
    }

    /// A kernel region's channel fd (non-blocking), opened once.
    fn chan_fd(&self, dev: BorrowedFd<'_>) -> Result<BorrowedFd<'_>> {
        if let Some(fd) = self.chan_fd.get() {
            return Ok(fd.as_fd());
        }
        let mut rq = IocChanFd { id: self.id, flags: CHAN_FD_NONBLOCK, reserved: 0 };
        // SAFETY: IOC_CHAN_FD takes a struct dmxp_ioc_chan_fd.
        let raw = unsafe { sys::ioctl_ptr(dev, IOC_CHAN_FD, &mut rq) }?;
        // SAFETY: the ioctl returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // If another thread won the race, its fd stays and ours is closed.
        let _ = self.chan_fd.set(fd);
        Ok(self.chan_fd.get().expect("set above").as_fd())
    }

    /// Sleeper step 5: until woken, or `deadline_ns` (absolute
    /// `CLOCK_MONOTONIC`).  A timeout or a signal is not an error: the
    /// caller's loop decides.
    fn sleep(&self, side: Side, ev: u32, deadline_ns: Option<u64>) -> Result<()> {
        self.sleeps.fetch_add(1, Relaxed);
        let r = match self.region.kernel_fd() {
            None => sys::futex_wait(self.futex_word(side), ev, deadline_ns),
            Some(dev) => {
                // poll() queues us on the channel's wait queue before it
                // checks the ring; DMXP_IOC_NOTIFY wakes that queue.  The
                // fd cannot be had once the channel is gone: the caller's
                // next try reports EIDRM.
                let fd = match self.chan_fd(dev) {
                    Ok(fd) => fd,
                    Err(_) if self.check().is_err() => return Ok(()),
                    Err(e) => return Err(e),
                };
                let ms = match deadline_ns {
                    None => -1,
                    Some(d) => {
                        let left = d.saturating_sub(sys::monotonic_ns());
                        left.div_ceil(1_000_000).min(i32::MAX as u64) as i32
                    }
                };
                let events = if side == Side::Recv { sys::POLLIN } else { sys::POLLOUT };
                sys::poll_one(fd, events, ms).map(|_| ())
            }
        };
        match r {
            Ok(()) | Err(Errno::ETIMEDOUT) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Spin briefly on the ring before sleeping: a sleep and a wake-up
    /// cost far more than a message usually takes.  True if ready.
    fn spin(&self, side: Side) -> bool {
        for i in 0..SPIN_CHECKS {
            if self.ready(side) {
                return true;
            }
            if i == SPIN_YIELD_AT {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        false
    }

    /// Retry `op` while it fails with `EAGAIN`: spin, announce, re-check,
    /// sleep, as `lib/wait.c`'s wait_loop().  `None`: no time limit.
    fn wait_loop<T>(
        &self,
        side: Side,
        timeout: Option<Duration>,
        mut op: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let deadline = timeout
            .map(|t| sys::monotonic_ns().saturating_add(t.as_nanos().min(u64::MAX as u128) as u64));
        loop {
            match op() {
                Err(Errno::EAGAIN) => {}
                r => return r,
            }
            if deadline.is_some_and(|d| sys::monotonic_ns() >= d) {
                return Err(Errno::ETIMEDOUT);
            }
            if self.spin(side) {
                continue;
            }
            let Some(ev) = self.announce(side) else { continue };
            let slice = sys::monotonic_ns().saturating_add(SLEEP_SLICE_NS);
            let until = deadline.map_or(slice, |d| d.min(slice));
            let r = self.sleep(side, ev, Some(until));
            // 6. no longer a waiter.
            self.waiters(side).fetch_sub(1, SeqCst);
            r?;
        }
    }

    /// [`Channel::send`], waiting up to `timeout` for a free slot.
    /// `ETIMEDOUT` when none came in time.
    pub fn send_wait(
        &self,
        payload: &[u8],
        msg_type: u32,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        self.wait_loop(Side::Send, timeout, || self.send(payload, msg_type))
    }

    /// [`Channel::send_tombstone`], waiting up to `timeout` for a free slot.
    pub fn send_tombstone_wait(&self, timeout: Option<Duration>) -> Result<u64> {
        self.wait_loop(Side::Send, timeout, || self.send_tombstone())
    }

    /// [`Channel::recv`], waiting up to `timeout` for a message.
    /// `ETIMEDOUT` when none came in time.
    pub fn recv_wait(
        &self,
        buf: &mut [u8; MAX_PAYLOAD],
        timeout: Option<Duration>,
    ) -> Result<MessageMeta> {
        self.wait_loop(Side::Recv, timeout, || self.recv(buf))
    }
}
