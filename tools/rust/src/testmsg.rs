//! The test traffic shared with `c_peer.c`: deterministic payloads, the
//! line a consumer prints per message, and the verifier.
//!
//! Message `seq` of producer `NAME` has the payload `"NAME-SEQ:"` followed
//! by pattern bytes, its length spread over `len("NAME-SEQ:")..=960` (so
//! 960-byte messages occur), and a message type derived from both.  A
//! "plain" producer (`dmxpctl send`, `helper_rawpeer`) sends `"NAME-SEQ"`
//! with type 0.  `c_peer.c` implements the same functions.
//!
//! A consumer prints one line per message (a [`Record`]):
//!
//! ```text
//! ID LEN FNV64 TYPE RUNTIME PID MESSAGE_ID CHANNEL TIMESTAMP FLAGS
//! ```
//!
//! where `ID` is the payload up to its first `:` (`NAME-SEQ`), `FNV64` the
//! FNV-1a hash of the whole payload in hex, and the rest the metadata.
//! [`verify`] then checks, against what each producer was asked to send:
//! every message delivered exactly once; its payload (length and hash),
//! type, `sender_runtime`, `channel_id` and `flags`; one `sender_pid` per
//! producer; `message_id`s unique, increasing along each producer's
//! messages and along each consumer's; per-producer FIFO order within
//! each consumer; timestamps non-decreasing per producer.

use std::collections::{HashMap, HashSet};

use crate::layout::{MessageMeta, MAX_PAYLOAD};

/// The payload that ends a consumer (not a test message).
pub const END: &[u8] = b"END";

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The payload of message `seq` of producer `name`.
pub fn payload(name: &str, seq: u64, plain: bool) -> Vec<u8> {
    if plain {
        return format!("{name}-{seq}").into_bytes();
    }
    let mut p = format!("{name}-{seq}:").into_bytes();
    let h = fnv1a(name.as_bytes());
    let prefix = p.len() as u64;
    let len = prefix + seq.wrapping_mul(37).wrapping_add(h) % (MAX_PAYLOAD as u64 + 1 - prefix);
    for k in prefix..len {
        p.push(seq.wrapping_mul(131).wrapping_add(k * 7).wrapping_add(h >> 8) as u8);
    }
    p
}

/// The message type of message `seq` of producer `name`.
pub fn msg_type(name: &str, seq: u64, plain: bool) -> u32 {
    if plain {
        return 0;
    }
    let h = fnv1a(name.as_bytes());
    ((h ^ (h >> 32)) as u32) ^ (seq as u32).wrapping_mul(2_654_435_761)
}

/// What a consumer saw of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub len: u32,
    pub hash: u64,
    pub msg_type: u32,
    pub runtime: u16,
    pub pid: u32,
    pub message_id: u64,
    pub channel_id: u32,
    pub timestamp_ns: u64,
    pub flags: u16,
}

impl Record {
    /// The record of a received message.
    pub fn new(meta: &MessageMeta, payload: &[u8]) -> Record {
        let prefix = payload.split(|&b| b == b':').next().unwrap_or(&[]);
        let mut id: String = prefix
            .iter()
            .take(64)
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect();
        if id.is_empty() {
            id.push('~');
        }
        Record {
            id,
            len: payload.len() as u32,
            hash: fnv1a(payload),
            msg_type: meta.message_type,
            runtime: meta.sender_runtime,
            pid: meta.sender_pid,
            message_id: meta.message_id,
            channel_id: meta.channel_id,
            timestamp_ns: meta.timestamp_ns,
            flags: meta.flags,
        }
    }

    /// The record as one line (without the newline).
    pub fn line(&self) -> String {
        format!(
            "{} {} {:016x} {} {} {} {} {} {} {}",
            self.id,
            self.len,
            self.hash,
            self.msg_type,
            self.runtime,
            self.pid,
            self.message_id,
            self.channel_id,
            self.timestamp_ns,
            self.flags
        )
    }

    /// Parse [`Record::line`]'s format.
    pub fn parse(line: &str) -> Option<Record> {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 10 {
            return None;
        }
        Some(Record {
            id: f[0].to_string(),
            len: f[1].parse().ok()?,
            hash: u64::from_str_radix(f[2], 16).ok()?,
            msg_type: f[3].parse().ok()?,
            runtime: f[4].parse().ok()?,
            pid: f[5].parse().ok()?,
            message_id: f[6].parse().ok()?,
            channel_id: f[7].parse().ok()?,
            timestamp_ns: f[8].parse().ok()?,
            flags: f[9].parse().ok()?,
        })
    }
}

/// What one producer was asked to send: `NAME=COUNT,RUNTIME[,plain]`.
#[derive(Clone, Debug)]
pub struct Expect {
    pub name: String,
    pub count: u64,
    pub runtime: u16,
    pub plain: bool,
}

impl Expect {
    pub fn parse(s: &str) -> Option<Expect> {
        let (name, rest) = s.split_once('=')?;
        let mut it = rest.split(',');
        let count = it.next()?.parse().ok()?;
        let runtime = it.next()?.parse().ok()?;
        let plain = match it.next() {
            None => false,
            Some("plain") => true,
            Some(_) => return None,
        };
        if name.is_empty() || name.contains(['-', ':', ' ']) || it.next().is_some() {
            return None;
        }
        Some(Expect { name: name.to_string(), count, runtime, plain })
    }
}

/// Per producer: for each seq, how often it was seen and with which
/// message_id and timestamp (the last seen).
struct Seen {
    count: Vec<u32>,
    message_id: Vec<u64>,
    timestamp: Vec<u64>,
    pid: Option<u32>,
}

/// Check the records of every consumer of one channel against the
/// producers' expectations.  `Ok(summary)` or `Err(problems)` (at most 20
/// listed, then a count).
pub fn verify(
    expects: &[Expect],
    channel: u32,
    consumers: &[(String, Vec<Record>)],
) -> Result<String, Vec<String>> {
    let mut bad: Vec<String> = Vec::new();
    let mut nbad = 0usize;
    let mut complain = |s: String| {
        nbad += 1;
        if nbad <= 20 {
            bad.push(s);
        }
    };
    let by_name: HashMap<&str, &Expect> = expects.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut seen: HashMap<&str, Seen> = expects
        .iter()
        .map(|e| {
            let n = e.count as usize;
            (
                e.name.as_str(),
                Seen {
                    count: vec![0; n],
                    message_id: vec![0; n],
                    timestamp: vec![0; n],
                    pid: None,
                },
            )
        })
        .collect();
    let mut ids = HashSet::new();
    let mut total = 0usize;

    for (file, records) in consumers {
        let mut last_seq: HashMap<&str, u64> = HashMap::new();
        let mut last_mid: Option<u64> = None;
        for (i, r) in records.iter().enumerate() {
            let at = format!("{file}:{}", i + 1);
            total += 1;
            if !ids.insert(r.message_id) {
                complain(format!("{at}: message_id {} delivered twice", r.message_id));
            }
            if last_mid.is_some_and(|m| r.message_id <= m) {
                complain(format!(
                    "{at}: message_id {} after {} in one consumer",
                    r.message_id,
                    last_mid.unwrap()
                ));
            }
            last_mid = Some(r.message_id);
            let Some((name, seq)) =
                r.id.rsplit_once('-').and_then(|(n, s)| Some((n, s.parse::<u64>().ok()?)))
            else {
                complain(format!("{at}: unexpected message {:?}", r.id));
                continue;
            };
            let (Some(exp), Some(s)) = (by_name.get(name), seen.get_mut(name)) else {
                complain(format!("{at}: message {:?} from an unknown producer", r.id));
                continue;
            };
            if seq >= exp.count {
                complain(format!("{at}: {:?} beyond the producer's {} messages", r.id, exp.count));
                continue;
            }
            let want = payload(name, seq, exp.plain);
            if r.len as usize != want.len() || r.hash != fnv1a(&want) {
                complain(format!(
                    "{at}: {:?}: payload of {} bytes differs (want {} bytes)",
                    r.id,
                    r.len,
                    want.len()
                ));
            }
            if r.msg_type != msg_type(name, seq, exp.plain) {
                complain(format!("{at}: {:?}: message_type {}", r.id, r.msg_type));
            }
            if r.runtime != exp.runtime {
                complain(format!(
                    "{at}: {:?}: sender_runtime {}, want {}",
                    r.id, r.runtime, exp.runtime
                ));
            }
            if r.channel_id != channel || r.flags != 0 || r.timestamp_ns == 0 || r.pid == 0 {
                complain(format!(
                    "{at}: {:?}: channel_id {} flags {} timestamp {} pid {}",
                    r.id, r.channel_id, r.flags, r.timestamp_ns, r.pid
                ));
            }
            match s.pid {
                None => s.pid = Some(r.pid),
                Some(p) if p != r.pid => {
                    complain(format!("{at}: {:?}: sender_pid {} after {p}", r.id, r.pid))
                }
                _ => {}
            }
            if let Some(&l) = last_seq.get(name) {
                if seq <= l {
                    complain(format!(
                        "{at}: {name}-{seq} after {name}-{l}: per-producer order broken"
                    ));
                }
            }
            last_seq.insert(name, seq);
            let k = seq as usize;
            s.count[k] += 1;
            s.message_id[k] = r.message_id;
            s.timestamp[k] = r.timestamp_ns;
        }
    }

    let mut expected = 0u64;
    for e in expects {
        expected += e.count;
        let s = &seen[e.name.as_str()];
        let missing = s.count.iter().filter(|&&c| c == 0).count();
        let dup = s.count.iter().filter(|&&c| c > 1).count();
        if missing > 0 || dup > 0 {
            let first = s.count.iter().position(|&c| c != 1).unwrap_or(0);
            complain(format!(
                "{}: {missing} missing, {dup} duplicated (first: {}-{first})",
                e.name, e.name
            ));
        }
        // Along one producer's messages (all delivered ones), positions grow
        // and timestamps do not go back.
        let mut prev: Option<usize> = None;
        for k in (0..s.count.len()).filter(|&k| s.count[k] > 0) {
            if let Some(p) = prev {
                if s.message_id[k] <= s.message_id[p] {
                    complain(format!(
                        "{}-{k}: message_id {} not after {}-{p}'s {}",
                        e.name, s.message_id[k], e.name, s.message_id[p]
                    ));
                }
                if s.timestamp[k] < s.timestamp[p] {
                    complain(format!("{}-{k}: timestamp before {}-{p}'s", e.name, e.name));
                }
            }
            prev = Some(k);
        }
    }
    if total as u64 != expected {
        complain(format!("{total} messages delivered, {expected} sent"));
    }
    if nbad > 20 {
        bad.push(format!("... and {} more", nbad - 20));
    }
    if nbad > 0 {
        return Err(bad);
    }
    let shares: Vec<String> = consumers.iter().map(|(_, r)| r.len().to_string()).collect();
    Ok(format!(
        "{total} messages from {} producers to {} consumers ({}): each exactly once, in order, payload and metadata as sent",
        expects.len(),
        consumers.len(),
        shares.join(", ")
    ))
}
