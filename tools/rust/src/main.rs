//! # dmxp-rs: a dmxp peer in Rust, from the layout document alone
//!
//! This program joins dmxp channels without `libdmxp` and without any
//! crate, with only the standard library, following
//! `Documentation/MEMORY_LAYOUT.md`.  It exists to test the design's claim
//! that the region is a language-neutral ABI of "binary-compatible
//! `#[repr(C)]` structures": `selftests/test_rust.sh` runs it against the
//! C library, `dmxpctl` and `helper_rawpeer`, in both directions, several
//! processes at once on one channel.
//!
//! ## How the document maps to the code
//!
//! | document | here |
//! | --- | --- |
//! | 3-6: GlobalHeader, ChannelEntry, Slot, MessageMeta, constants | [`layout`]: `#[repr(C)]` structs, `const` assertions of every size and offset, [`layout::self_test`] and [`layout::dump`] |
//! | 2.3: attach and validate | [`region::Region::attach`], [`region::validate`]: `std::fs::OpenOptions`, `mmap` declared in [`sys`] |
//! | 10.4: open, the seqlock read | [`chan::Channel::open`] |
//! | 7.2 / 7.3: send, receive | [`chan::Channel::send`], [`chan::Channel::recv`] |
//! | 8: memory ordering | `std::sync::atomic`: `AtomicU64` views of `tail`, `head`, `sequence`; Acquire at `[P1]`/`[C1]`, Release at `[P2]`/`[C2]` and at the CAS claims |
//! | 9.1: tombstones | [`chan::Channel::send_tombstone`]; `recv` claims, frees and skips them |
//! | 10.6: generation | every send and receive checks it first (`EIDRM`) |
//! | 13: the wake protocol | waker: `fence(SeqCst)`, waiter word, futex word + `FUTEX_WAKE` (kernel: `DMXP_IOC_NOTIFY`); sleeper: `send_wait`/`recv_wait` with `FUTEX_WAIT_BITSET` (kernel: `poll` on the channel fd) |
//! | 14: crash repair, the claim table | [`region::Region::record`]: records of the claim table, owned by the `/dev/dmxp` file's lease or by our pid, start time and pid namespace; written before each claim, ended after the publish or free ([`chan`]) |
//!
//! Atomic fields are viewed in place as `AtomicU64`/`AtomicU32` (they are
//! declared with those types in the `#[repr(C)]` structs, whose layout is
//! the C one).  The plain bytes of slots (meta, payload) are only ever
//! accessed through raw pointers by the slot's owner: no `&`/`&mut` is
//! formed over memory another process may write (8.3).
//!
//! The system interface is a handful of `extern "C"` declarations of libc
//! functions that std links anyway ([`sys`]): `mmap`, `munmap`,
//! `clock_gettime`, `poll`, `ioctl` and `syscall` (for `futex`, which std
//! does not expose).
//!
//! ## Commands
//!
//! ```text
//! dmxp-rs selftest [REGION]     layout checks; with REGION: attach, validation
//!                               of damaged headers, channel open errors,
//!                               claim records taken and given back
//! dmxp-rs layout                the layout, for comparison with `c_peer layout`
//! dmxp-rs produce REGION CH COUNT NAME... [--interval-us N] [--tombstone-every K]
//!                 [--timeout-ms T]
//!                               one thread per NAME sends COUNT test messages,
//!                               waiting (asleep) while the ring is full
//! dmxp-rs consume REGION CH [--timeout-ms T]
//!                               print a record per message until a payload "END"
//! dmxp-rs verify --channel CH NAME=COUNT,RUNTIME[,plain]... -- FILE...
//!                               check the consumers' records
//! dmxp-rs stale REGION CH DMXPCTL
//!                               generation and wake-on-destroy checks, using
//!                               dmxpctl to destroy and re-create channel CH
//! dmxp-rs threads REGION CH PRODUCERS CONSUMERS COUNT
//!                               an MPMC run between threads of this process
//! dmxp-rs hold REGION CH [--written PAYLOAD]
//!                               (for the crash-repair test) claim a slot of
//!                               CH, with its claim record, and never publish
//!                               it; with --written, write PAYLOAD into it
//!                               first.  Prints "claimed POS", then sleeps
//!                               until killed
//! ```
//!
//! REGION is a file (`/dev/shm/...`) or a kernel region (`/dev/dmxp`,
//! `/dev/dmxp:NAME`); an empty string means `$DMXP_REGION`, else
//! `/dev/shm/dmxp_alloc`.  Exit status: 0 success, 1 failure, 2 bad
//! usage, 3 timed out.

#![deny(unsafe_op_in_unsafe_fn)]

mod chan;
mod layout;
mod region;
mod sys;
mod testmsg;

use std::io::{self, BufRead, BufWriter, Write};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chan::Channel;
use layout::{GlobalHeader, Runtime, CHAN_CREATED, HEADER_SIZE, MAX_CHANNELS, MAX_PAYLOAD};
use region::Region;
use sys::Errno;
use testmsg::{Expect, Record};

/// A command's failure: the message and the exit status.
struct Fail(String, u8);

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail(s, 1)
    }
}

/// A failed call as a [`Fail`]: ETIMEDOUT exits with 3.
fn fail(what: &str, e: Errno) -> Fail {
    Fail(format!("{what}: {e}"), if e == Errno::ETIMEDOUT { 3 } else { 1 })
}

fn usage() -> Fail {
    Fail(
        "usage: dmxp-rs selftest [REGION] | layout\n\
         \x20      | produce REGION CH COUNT NAME... [--interval-us N] [--tombstone-every K] [--timeout-ms T]\n\
         \x20      | consume REGION CH [--timeout-ms T]\n\
         \x20      | verify --channel CH NAME=COUNT,RUNTIME[,plain]... -- FILE...\n\
         \x20      | stale REGION CH DMXPCTL | threads REGION CH PRODUCERS CONSUMERS COUNT"
            .into(),
        2,
    )
}

/// Take `--name VALUE` out of `args`, parsed; `default` if absent.
fn take_opt<T: std::str::FromStr>(
    args: &mut Vec<String>,
    name: &str,
    default: T,
) -> Result<T, Fail> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) if i + 1 < args.len() => {
            let v = args.remove(i + 1);
            args.remove(i);
            v.parse().map_err(|_| Fail(format!("bad value {v:?} for {name}"), 2))
        }
        Some(_) => Err(usage()),
    }
}

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, Fail> {
    s.parse().map_err(|_| Fail(format!("bad {what} {s:?}"), 2))
}

fn attach(path: &str) -> Result<Region, Fail> {
    let path = region::default_path(Some(path));
    Region::attach(&path).map_err(|e| fail(&format!("cannot attach {path}"), e))
}

fn open(r: &Region, ch: u32) -> Result<Channel<'_>, Fail> {
    Channel::open(r, ch).map_err(|e| fail(&format!("cannot open channel {ch}"), e))
}

fn timeout_of(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

// ------------------------------------------------------------------ produce

fn cmd_produce(mut args: Vec<String>) -> Result<(), Fail> {
    let interval_us: u64 = take_opt(&mut args, "--interval-us", 0)?;
    let tomb_every: u64 = take_opt(&mut args, "--tombstone-every", 0)?;
    let timeout = timeout_of(take_opt(&mut args, "--timeout-ms", 20_000)?);
    if args.len() < 4 {
        return Err(usage());
    }
    let r = attach(&args[0])?;
    let c = open(&r, parse(&args[1], "channel")?)?;
    let count: u64 = parse(&args[2], "count")?;
    let names = &args[3..];
    if let Some(bad) = names.iter().find(|n| n.is_empty() || n.contains(['-', ':', ' '])) {
        return Err(Fail(format!("bad producer name {bad:?}"), 2));
    }
    let result: Mutex<Result<(), Fail>> = Mutex::new(Ok(()));
    let tombs = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for name in names {
            let (c, result, tombs) = (&c, &result, &tombs);
            s.spawn(move || {
                for seq in 0..count {
                    if tomb_every > 0 && seq % tomb_every == 0 {
                        if let Err(e) = c.send_tombstone_wait(timeout) {
                            *result.lock().unwrap() =
                                Err(fail(&format!("{name}: tombstone before {seq}"), e));
                            return;
                        }
                        tombs.fetch_add(1, Relaxed);
                    }
                    let p = testmsg::payload(name, seq, false);
                    if let Err(e) = c.send_wait(&p, testmsg::msg_type(name, seq, false), timeout) {
                        *result.lock().unwrap() = Err(fail(&format!("send {name}-{seq}"), e));
                        return;
                    }
                    if interval_us > 0 {
                        std::thread::sleep(Duration::from_micros(interval_us));
                    }
                }
            });
        }
    });
    let (sleeps, wakes) = c.stats();
    eprintln!(
        "# dmxp-rs produce {} on {} channel {}: {} messages, {} tombstones, {sleeps} sleeps, {wakes} wake-ups",
        names.join(" "),
        r.path(),
        c.id(),
        count * names.len() as u64,
        tombs.load(Relaxed)
    );
    result.into_inner().unwrap()
}

// ------------------------------------------------------------------ consume

/// Receive until a payload "END", printing a [`Record`] line per message.
fn cmd_consume(mut args: Vec<String>) -> Result<(), Fail> {
    let timeout = timeout_of(take_opt(&mut args, "--timeout-ms", 20_000)?);
    if args.len() != 2 {
        return Err(usage());
    }
    let r = attach(&args[0])?;
    let c = open(&r, parse(&args[1], "channel")?)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut buf = [0u8; MAX_PAYLOAD];
    let mut n = 0u64;
    let res = loop {
        match c.recv_wait(&mut buf, timeout) {
            Ok(meta) => {
                let p = &buf[..meta.payload_len as usize];
                if p == testmsg::END {
                    break Ok(());
                }
                n += 1;
                writeln!(out, "{}", Record::new(&meta, p).line()).map_err(|e| e.to_string())?;
            }
            Err(e) => break Err(fail(&format!("receive after {n} messages"), e)),
        }
    };
    out.flush().map_err(|e| e.to_string())?;
    let (sleeps, wakes) = c.stats();
    eprintln!(
        "# dmxp-rs consume on {} channel {}: {n} messages, {sleeps} sleeps, {wakes} wake-ups",
        r.path(),
        c.id()
    );
    res
}

// ------------------------------------------------------------------- verify

fn cmd_verify(mut args: Vec<String>) -> Result<(), Fail> {
    let channel: i64 = take_opt(&mut args, "--channel", -1)?;
    let sep = args.iter().position(|a| a == "--").ok_or_else(usage)?;
    let files = args.split_off(sep + 1);
    args.pop();
    if channel < 0 || args.is_empty() || files.is_empty() {
        return Err(usage());
    }
    let expects = args
        .iter()
        .map(|a| Expect::parse(a).ok_or_else(|| Fail(format!("bad expectation {a:?}"), 2)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut consumers = Vec::new();
    for f in &files {
        let file = std::fs::File::open(f).map_err(|e| format!("{f}: {e}"))?;
        let mut records = Vec::new();
        for (i, line) in io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("{f}: {e}"))?;
            records.push(
                Record::parse(&line)
                    .ok_or_else(|| format!("{f}:{}: bad record {line:?}", i + 1))?,
            );
        }
        let short = f.rsplit('/').next().unwrap_or(f).to_string();
        consumers.push((short, records));
    }
    match testmsg::verify(&expects, channel as u32, &consumers) {
        Ok(summary) => {
            println!("# {summary}");
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                println!("# {p}");
            }
            Err("verification failed".to_string().into())
        }
    }
}

// ------------------------------------------------------------------ threads

/// Producers and consumers as threads of this process, sharing one handle.
fn cmd_threads(args: Vec<String>) -> Result<(), Fail> {
    if args.len() != 5 {
        return Err(usage());
    }
    let r = attach(&args[0])?;
    let ch: u32 = parse(&args[1], "channel")?;
    let (np, nc, count): (usize, usize, u64) =
        (parse(&args[2], "producers")?, parse(&args[3], "consumers")?, parse(&args[4], "count")?);
    let c = open(&r, ch)?;
    let timeout = Some(Duration::from_secs(20));
    let failed = AtomicBool::new(false);
    let names: Vec<String> = (0..np).map(|i| format!("t{i}")).collect();
    let consumers: Vec<(String, Vec<Record>)> = std::thread::scope(|s| {
        let cons: Vec<_> = (0..nc)
            .map(|i| {
                let (c, failed) = (&c, &failed);
                s.spawn(move || {
                    let mut buf = [0u8; MAX_PAYLOAD];
                    let mut recs = Vec::new();
                    loop {
                        match c.recv_wait(&mut buf, timeout) {
                            Ok(m) if &buf[..m.payload_len as usize] == testmsg::END => break,
                            Ok(m) => recs.push(Record::new(&m, &buf[..m.payload_len as usize])),
                            Err(e) => {
                                eprintln!("dmxp-rs: consumer thread {i}: {e}");
                                failed.store(true, Relaxed);
                                break;
                            }
                        }
                    }
                    (format!("thread{i}"), recs)
                })
            })
            .collect();
        let prods: Vec<_> = names
            .iter()
            .map(|name| {
                let (c, failed) = (&c, &failed);
                s.spawn(move || {
                    for seq in 0..count {
                        let p = testmsg::payload(name, seq, false);
                        if let Err(e) =
                            c.send_wait(&p, testmsg::msg_type(name, seq, false), timeout)
                        {
                            eprintln!("dmxp-rs: send {name}-{seq}: {e}");
                            failed.store(true, Relaxed);
                            return;
                        }
                    }
                })
            })
            .collect();
        for p in prods {
            p.join().unwrap();
        }
        for _ in 0..nc {
            if let Err(e) = c.send_wait(testmsg::END, 0, timeout) {
                eprintln!("dmxp-rs: send END: {e}");
                failed.store(true, Relaxed);
            }
        }
        cons.into_iter().map(|h| h.join().unwrap()).collect()
    });
    if failed.load(Relaxed) {
        return Err("a thread failed".to_string().into());
    }
    let expects: Vec<Expect> = names
        .iter()
        .map(|n| Expect { name: n.clone(), count, runtime: Runtime::Rust as u16, plain: false })
        .collect();
    match testmsg::verify(&expects, ch, &consumers) {
        Ok(summary) => {
            println!("# threads: {summary}");
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                println!("# {p}");
            }
            Err("verification failed".to_string().into())
        }
    }
}

// --------------------------------------------------------------------- hold

/// Claim a slot and hold it unpublished until killed, so that the test
/// can check that the claim is repaired.
fn cmd_hold(mut args: Vec<String>) -> Result<(), Fail> {
    let written: String = take_opt(&mut args, "--written", String::new())?;
    let written = (!written.is_empty()).then_some(written);
    if args.len() != 2 {
        return Err(usage());
    }
    let r = attach(&args[0])?;
    let c = open(&r, parse(&args[1], "channel")?)?;
    let payload = written.as_deref().unwrap_or("").as_bytes();
    let (pos, rec) = c
        .claim_unpublished(payload, written.is_some())
        .map_err(|e| fail("claim a slot with a record", e))?;
    println!("claimed {pos} record {}", rec.index().unwrap_or(u32::MAX));
    io::stdout().flush().map_err(|e| e.to_string())?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

// -------------------------------------------------------------------- stale

/// A little test harness for the checks of `selftest` and `stale`: prints
/// "# ok" / "# FAIL" lines (diagnostics inside the shell's TAP stream).
struct Checks {
    n: usize,
    failed: usize,
}

impl Checks {
    fn new() -> Checks {
        Checks { n: 0, failed: 0 }
    }

    fn check(&mut self, ok: bool, what: impl AsRef<str>) {
        self.n += 1;
        if ok {
            println!("#   ok: {}", what.as_ref());
        } else {
            self.failed += 1;
            println!("#   FAIL: {}", what.as_ref());
        }
    }

    fn done(self, what: &str) -> Result<(), Fail> {
        println!("# {what}: {} checks, {} failed", self.n, self.failed);
        if self.failed == 0 {
            Ok(())
        } else {
            Err(format!("{what}: {} of {} checks failed", self.failed, self.n).into())
        }
    }
}

fn dmxpctl(ctl: &str, region: &str, args: &[&str]) -> bool {
    Command::new(ctl).arg("-r").arg(region).args(args).status().is_ok_and(|s| s.success())
}

/// The generation check (10.6) and the destroyer's wake-up (11), with
/// dmxpctl destroying and re-creating the channel (created by the caller
/// with capacity 4) under this process's open handle.
fn cmd_stale(args: Vec<String>) -> Result<(), Fail> {
    if args.len() != 3 {
        return Err(usage());
    }
    let path = region::default_path(Some(&args[0]));
    let r = attach(&path)?;
    let ch: u32 = parse(&args[1], "channel")?;
    let ctl = &args[2];
    let c = open(&r, ch)?;
    let mut t = Checks::new();
    let mut buf = [0u8; MAX_PAYLOAD];

    t.check(c.capacity() == 4, format!("channel {ch} opened, capacity {}", c.capacity()));
    // Round trip, full, empty, too big.
    let sent: Vec<_> = (0..4u32).map(|i| c.send(format!("m{i}").as_bytes(), i)).collect();
    t.check(
        sent.iter().enumerate().all(|(i, s)| *s == Ok(i as u64)),
        "4 sends fill a ring of 4, positions 0..3",
    );
    t.check(c.send(b"x", 0) == Err(Errno::EAGAIN), "a fifth send: EAGAIN (full)");
    t.check(c.send(&[0u8; MAX_PAYLOAD + 1], 0) == Err(Errno::EMSGSIZE), "961 bytes: EMSGSIZE");
    let got: Vec<_> = (0..4)
        .map(|_| c.recv(&mut buf).map(|m| (m, buf[..m.payload_len as usize].to_vec())))
        .collect();
    let me = std::process::id();
    t.check(
        got.iter().enumerate().all(|(i, g)| {
            g.as_ref().is_ok_and(|(m, p)| {
                *p == format!("m{i}").as_bytes()
                    && m.message_id == i as u64
                    && m.message_type == i as u32
                    && m.sender_runtime == Runtime::Rust as u16
                    && m.sender_pid == me
                    && m.channel_id == ch
            })
        }),
        "received back in order, with our metadata",
    );
    t.check(c.recv(&mut buf) == Err(Errno::EAGAIN), "then EAGAIN (empty)");
    let tomb = c.send_tombstone();
    let after = c.send(b"after", 7);
    let m = c.recv(&mut buf);
    t.check(
        tomb == Ok(4)
            && after == Ok(5)
            && m.is_ok_and(|m| m.message_id == 5 && &buf[..5] == b"after"),
        "a tombstone is claimed, freed and skipped",
    );

    // A sleeping consumer is woken by the destroy and sees EIDRM.
    let start = Instant::now();
    let (woken, destroyed) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut b = [0u8; MAX_PAYLOAD];
            c.recv_wait(&mut b, Some(Duration::from_secs(10)))
        });
        std::thread::sleep(Duration::from_millis(200));
        let destroyed = dmxpctl(ctl, &path, &["destroy", &ch.to_string()]);
        (h.join().unwrap(), destroyed)
    });
    let waited = start.elapsed();
    t.check(destroyed, "dmxpctl destroy");
    t.check(
        woken == Err(Errno::EIDRM) && waited < Duration::from_secs(5),
        format!(
            "a consumer asleep in recv_wait is woken by the destroy: {woken:?} after {waited:?}"
        ),
    );
    let (sleeps, _) = c.stats();
    t.check(sleeps > 0, format!("it was asleep ({sleeps} sleeps)"));
    t.check(c.send(b"x", 0) == Err(Errno::EIDRM), "send on the stale handle: EIDRM");
    t.check(c.recv(&mut buf) == Err(Errno::EIDRM), "recv on the stale handle: EIDRM");
    t.check(Channel::open(&r, ch).err() == Some(Errno::ENOENT), "open a destroyed channel: ENOENT");

    // Created again: a new generation, a fresh ring; the old handle stays stale.
    t.check(
        dmxpctl(ctl, &path, &["create", &ch.to_string(), "--capacity", "8"]),
        "dmxpctl create again",
    );
    match Channel::open(&r, ch) {
        Ok(c2) => {
            t.check(
                c2.generation() != c.generation() && c2.capacity() == 8,
                format!("new generation {} (was {}), capacity 8", c2.generation(), c.generation()),
            );
            t.check(c.send(b"x", 0) == Err(Errno::EIDRM), "the old handle still gets EIDRM");
            let pos = c2.send(b"new", 1);
            let m = c2.recv(&mut buf);
            t.check(
                pos == Ok(0) && m.is_ok_and(|m| m.message_id == 0),
                "the new ring starts at position 0",
            );
        }
        Err(e) => t.check(false, format!("open the new channel: {e}")),
    }
    t.check(
        Channel::open(&r, MAX_CHANNELS as u32).err() == Some(Errno::EINVAL),
        "open channel 256: EINVAL",
    );
    t.done("stale handles")
}

// ----------------------------------------------------------------- selftest

/// Copy the header out of the shared mapping with relaxed 64-bit atomic
/// loads (other processes may be moving `tail` and `head`).
fn header_copy(r: &Region) -> Box<GlobalHeader> {
    let mut b: Box<std::mem::MaybeUninit<GlobalHeader>> = Box::new_uninit();
    let src = r.header() as *const GlobalHeader as *const std::sync::atomic::AtomicU64;
    let dst = b.as_mut_ptr().cast::<u64>();
    for i in 0..HEADER_SIZE / 8 {
        // SAFETY: the header is 8-byte aligned and a multiple of 8 bytes;
        // reading it as AtomicU64 words only loads (never writes) shared
        // memory, and every word is written into the private copy, which
        // thus becomes fully initialised (all of the header's fields are
        // integers, atomics or byte arrays: any bits are valid).
        unsafe { dst.add(i).write((*src.add(i)).load(Relaxed)) };
    }
    // SAFETY: fully initialised above.
    unsafe { b.assume_init() }
}

/// The handshake's rule on the module's answers: major equal, needed
/// features present, minor and unknown bits ignored.
fn handshake_rule() -> Result<(), Fail> {
    let all =
        layout::FEAT_REGIONS | layout::FEAT_CHANNELS | layout::FEAT_WAKE | layout::FEAT_REPAIR;
    let answers: [(&str, u32, u32, bool); 6] = [
        ("1.0.0: major 1, the four features", 1, all, true),
        ("major 1, minor 7, unknown feature bits", 7 << 16 | 1, all | 0xffff_0000, true),
        ("major 2", 2, all, false),
        ("major 1 in the high half only", 1 << 16, all, false),
        ("no repair", 1, all & !layout::FEAT_REPAIR, false),
        ("no features", 1, 0, false),
    ];
    let mut bad = 0;
    for (what, version, features, ok) in answers {
        let v = layout::IocVersion { version, features, ..Default::default() };
        let got = region::handshake_answer(&v);
        if got.is_ok() != ok || (!ok && got != Err(Errno::EPROTO)) {
            println!("#   FAIL: handshake answer {what}: {got:?}");
            bad += 1;
        }
    }
    println!("# handshake: {} answers of the module checked, {bad} failed", answers.len());
    if bad > 0 {
        return Err("handshake self-test failed".to_string().into());
    }
    Ok(())
}

fn cmd_selftest(args: Vec<String>) -> Result<(), Fail> {
    let (n, bad) = layout::self_test();
    for b in &bad {
        println!("#   FAIL: {b}");
    }
    println!(
        "# layout: {n} run-time checks of {} structs and {} fields, {} failed",
        layout::STRUCTS.len(),
        layout::FIELDS.len(),
        bad.len()
    );
    if !bad.is_empty() {
        return Err("layout self-test failed".to_string().into());
    }
    handshake_rule()?;
    let Some(path) = args.first() else { return Ok(()) };
    let path = region::default_path(Some(path));
    let mut t = Checks::new();

    let r = match Region::attach(&path) {
        Ok(r) => r,
        Err(e) => return Err(fail(&format!("attach {path}"), e)),
    };
    t.check(true, format!("attach and validate {path} ({} bytes)", r.size()));
    let size = r.size() as u64;

    // Validation (2.3) of damaged copies of the header.
    let mut h = header_copy(&r);
    t.check(region::validate_header(&h, size).is_ok(), "a copy of the header validates");
    t.check(
        region::validate_header(&h, size + 4096) == Err(Errno::EPROTO),
        "region_size != file size: EPROTO",
    );
    let free = (0..MAX_CHANNELS).find(|&i| {
        h.channels[i].flags.load(Relaxed) == 0 && *h.channels[i].band_capacity.get_mut() == 0
    });
    type Damage = (&'static str, fn(&mut GlobalHeader, u64, usize));
    let damages: [Damage; 13] = [
        ("magic", |h, _, _| *h.magic.get_mut() ^= 1),
        ("version 2", |h, _, _| h.version = 2),
        ("max_channels 255", |h, _, _| h.max_channels = 255),
        ("alloc_cursor inside the header", |h, _, _| {
            *h.alloc_cursor.get_mut() = HEADER_SIZE as u64 - 64
        }),
        ("alloc_cursor beyond the end", |h, s, _| *h.alloc_cursor.get_mut() = s + 64),
        ("alloc_cursor not a multiple of 64", |h, _, _| *h.alloc_cursor.get_mut() += 8),
        ("a channel_id that is not its index", |h, _, i| h.channels[i].channel_id ^= 1),
        ("an unknown flags bit", |h, _, i| *h.channels[i].flags.get_mut() = 4),
        ("CREATED with capacity 3", |h, _, i| {
            let e = &mut h.channels[i];
            (*e.flags.get_mut(), *e.capacity.get_mut(), *e.band_offset.get_mut()) =
                (CHAN_CREATED, 3, HEADER_SIZE as u64);
        }),
        ("CREATED with a ring past the end", |h, s, i| {
            let e = &mut h.channels[i];
            (*e.flags.get_mut(), *e.capacity.get_mut(), *e.band_offset.get_mut()) =
                (CHAN_CREATED, 4, (s - 64) & !63);
        }),
        ("CREATED with a ring inside the header", |h, _, i| {
            let e = &mut h.channels[i];
            (*e.flags.get_mut(), *e.capacity.get_mut(), *e.band_offset.get_mut()) =
                (CHAN_CREATED, 2, 64);
        }),
        ("a band_offset not a multiple of 64", |h, _, i| {
            let e = &mut h.channels[i];
            (*e.band_capacity.get_mut(), *e.band_offset.get_mut()) = (2, HEADER_SIZE as u64 + 8);
        }),
        ("a band_capacity above 2^24", |h, _, i| {
            let e = &mut h.channels[i];
            (*e.band_capacity.get_mut(), *e.band_offset.get_mut()) = (1 << 25, HEADER_SIZE as u64);
        }),
    ];
    let Some(free) = free else {
        return Err("no free channel entry to damage".to_string().into());
    };
    for (what, damage) in damages {
        let mut d = header_copy(&r);
        damage(&mut d, size, free);
        t.check(region::validate_header(&d, size) == Err(Errno::EPROTO), format!("{what}: EPROTO"));
    }
    {
        let e = &mut h.channels[free];
        (*e.flags.get_mut(), *e.capacity.get_mut(), *e.band_offset.get_mut()) =
            (CHAN_CREATED, 2, HEADER_SIZE as u64);
        t.check(region::validate_header(&h, size).is_ok(), "a well-formed CREATED entry validates");
    }

    // Attach errors, on scratch files beside the region (or in /tmp).
    let dir = match path.rfind('/') {
        Some(i) if !path.starts_with("/dev/dmxp") => path[..i.max(1)].to_string(),
        _ => std::env::temp_dir().to_string_lossy().into_owned(),
    };
    let scratch = format!("{dir}/dmxp-rs-selftest.{}", std::process::id());
    t.check(Region::attach(&scratch).err() == Some(Errno::ENOENT), "attach a missing file: ENOENT");
    for (what, len) in
        [("a file of zeros", HEADER_SIZE as u64 + 4096), ("a file smaller than the header", 4096)]
    {
        let made = std::fs::File::create(&scratch).and_then(|f| f.set_len(len));
        let res = Region::attach(&scratch).err();
        let _ = std::fs::remove_file(&scratch);
        t.check(made.is_ok() && res == Some(Errno::EPROTO), format!("attach {what}: {res:?}"));
    }

    // The claim table's bounds, as libdmxp checks them.
    let hs = HEADER_SIZE as u64;
    let tables: [(&str, u64, u32, bool); 6] = [
        ("none", 0, 0, true),
        ("512 records after the header", hs, 512, true),
        ("4097 records", hs, 4097, false),
        ("an offset not a multiple of 64", hs + 8, 2, false),
        ("an offset inside the header", 64, 2, false),
        ("records past the end", (size - 64) & !63, 2, false),
    ];
    for (what, off, count, good) in tables {
        let got = region::claim_table(off, count, size);
        t.check(got.is_ok() == good, format!("claim table with {what}: {got:?}"));
    }

    // Claim records: the table, a record per claim in progress, owned by
    // this file's lease (kernel) or by our pid, start time and pid ns.
    let (table, lease, me) = r.claims();
    let kernel = path.starts_with("/dev/dmxp");
    t.check(
        !table.is_empty() && kernel == (lease != 0),
        format!("claim table: {} records; lease {lease}", table.len()),
    );
    if !table.is_empty() {
        let owner = if kernel { lease } else { me.pid };
        let (a, b) = (r.record(), r.record());
        let (ia, ib) =
            (a.as_ref().ok().and_then(|x| x.index()), b.as_ref().ok().and_then(|x| x.index()));
        match (ia, ib) {
            (Some(i), Some(j)) if i != j => {
                let owned = |k: u32| {
                    let c = &table[k as usize];
                    c.owner.load(Relaxed) == owner
                        && c.pid.load(Relaxed) == me.pid
                        && c.start_time.load(Relaxed) == me.start_time
                        && c.pid_ns.load(Relaxed) == me.pid_ns
                        && c.state.load(Relaxed) == layout::CLAIM_IDLE
                };
                t.check(
                    owned(i) && owned(j) && me.start_time != 0 && me.pid_ns != 0,
                    format!(
                        "two claims at once get records {i} and {j}, owner {owner}, \
                         pid {} start time {} pid ns {}",
                        me.pid, me.start_time, me.pid_ns
                    ),
                );
            }
            _ => t.check(false, format!("two claims at once get two records: {ia:?} {ib:?}")),
        }
        drop((a, b));
        let again = r.record().ok().and_then(|x| x.index());
        t.check(again == ia, format!("a record given back is lent again: {again:?}"));
        // The pool lends at most POOL records at once; a claim that gets
        // none claims nothing (ENOBUFS) rather than claiming unnamed.
        let held: Vec<_> = (0..region::POOL).map(|_| r.record()).collect();
        let all = held.iter().filter(|x| x.as_ref().is_ok_and(|x| x.index().is_some())).count();
        let extra = r.record().map(|x| x.index());
        t.check(
            all == region::POOL && extra == Err(Errno::ENOBUFS),
            format!("{all} records at once, then one more: {extra:?} (ENOBUFS)"),
        );
        drop(held);
        // A second handle: its own record (and lease), given back when
        // the handle is dropped, at the end of the closure.
        let other = Region::attach(&path).ok().and_then(|r2| {
            let l2 = r2.claims().1;
            let k = r2.record().ok()?.index()?;
            Some((k, l2))
        });
        t.check(
            other.is_some_and(|(k, l2)| {
                Some(k) != ia
                    && Some(k) != ib
                    && (!kernel || l2 != lease)
                    && table[k as usize].owner.load(Relaxed) == 0
            }),
            format!("another handle takes its own record, given back when closed: {other:?}"),
        );
    }

    // Channel open errors.
    t.check(
        Channel::open(&r, MAX_CHANNELS as u32).err() == Some(Errno::EINVAL),
        "open channel 256: EINVAL",
    );
    t.check(
        Channel::open(&r, free as u32).err() == Some(Errno::ENOENT),
        format!("open channel {free} (not created): ENOENT"),
    );
    t.done("region validation")
}

fn run(mut args: Vec<String>) -> Result<(), Fail> {
    if args.is_empty() {
        return Err(usage());
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "selftest" if args.len() <= 1 => cmd_selftest(args),
        "layout" if args.is_empty() => {
            print!("{}", layout::dump());
            Ok(())
        }
        "produce" => cmd_produce(args),
        "consume" => cmd_consume(args),
        "verify" => cmd_verify(args),
        "stale" => cmd_stale(args),
        "threads" => cmd_threads(args),
        "hold" => cmd_hold(args),
        _ => Err(usage()),
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg, code)) => {
            eprintln!("dmxp-rs: {msg}");
            ExitCode::from(code)
        }
    }
}
