/*
 * SPDX-License-Identifier: MIT
 *
 * A Promela model of one dmxp channel, checked with SPIN: the ring, the
 * wake-up protocol and crash repair, with producers and consumers that
 * can die at any step.
 *
 * What each process mirrors:
 *
 *	producer(me, n)	dmxp_chan_send_wait() sending n messages (lib/wait.c
 *			wait_loop() around lib/ring.c dmxp_chan_send():
 *			ring_claim_produce() [R1] [R2], the payload and meta,
 *			SEND_WRITTEN, dmxp__publish() [P2], dmxp__claim_end()
 *			[R3], dmxp__wake_consumers() [W1]); when the ring is
 *			full, chan_announce() [S1], chan_ready(), futex_wait
 *			(shm_wait() in lib/file.c) and chan_unannounce() on the send side
 *	consumer(me)	dmxp_chan_recv_wait() called again and again until the
 *			consumer stops (lib/wait.c wait_loop() around lib/ring.c
 *			dmxp_chan_recv(): ring_claim_one() skipping tombstones,
 *			ring_claim_consume() [C1] [R1] [R2], the copy,
 *			ring_free() [C2], [R3], dmxp__wake_producers() [W1])
 *	repairer()	lib/repair.c repair_pass() and repair_record() (kmod/repair.c
 *			repair_record() is the same rule): take a dead owner's
 *			record over, deliver SEND_WRITTEN, tombstone SEND (mark
 *			DMXP_SEQ_REPAIRING, write the meta, publish), free RECV,
 *			take a dead sleeper's count out of the waiter word;
 *			covered(); then dmxp__shm_wake_all()
 *	batch_producer(me, n), batch_consumer(me)  with -DBATCH, producer 0
 *			and consumer 2: dmxp_chan_send_batch() and
 *			dmxp_chan_recv_batch() (lib/ring.c) in runs of up to
 *			two, with one record naming the run (count) and one CAS;
 *			the repairer repairs each position a record names
 *	killer()	SIGKILL: stops any producer or consumer before any of
 *			its steps, at most MAXCRASH times per run
 *	monitor()	the checks once nothing can move any more (SPIN's
 *			timeout): see "Properties"
 *
 * Abstractions:
 *  - One channel of capacity CAP = 2 (the smallest the library allows),
 *    single-message sends and receives, and with -DBATCH batches of up
 *    to two (a run of one where two are ready stands for a caller's one
 *    entry, or a message too big for it; no batch cut short by a
 *    repairer: repairs act on dead owners only), no zero-copy
 *    references, no EMSGSIZE return, no destroy
 *    (one generation), no spin phase before sleeping (it only polls
 *    chan_ready()), no timeouts.
 *  - Positions are small (each run sends M0 + M1 messages): the 64-bit
 *    wrap is not modelled; DMXP_SEQ_REPAIRING(p) = p - 2^32 becomes
 *    p - 64, which compares below every position as it does in 64 bits.
 *  - Memory is sequentially consistent: each load, store and CAS is one
 *    step, in program order.  The code orders what the proofs need with
 *    acquire/release pairs ([P1]/[C2], [C1]/[P2], [R1][R2]/the repairer's
 *    acquire of tail and head, [R3]) and makes the Dekker pair of the
 *    wake-up protocol sequentially consistent: the sleeper's fence [S1]
 *    after its seq_cst RMW on the waiter word, the waker's seq_cst
 *    publish (free) CAS and seq_cst load of the waiter word [W1]
 *    (lib/wait.c gives the C11 argument).  Reorderings that these do
 *    not forbid are not explored: a model with a weak memory model
 *    (e.g. herd7 litmus tests of [S1]/[W1]) would be the next step.
 *  - A claim record is written in one step (its fields are relaxed
 *    stores ordered before the CAS by [R2]; a death between them leaves
 *    a record naming nothing claimed).  Records are taken at start
 *    (dmxp__claim_thread()); the repair_lock and the proof of death are
 *    abstracted: dead[] is an oracle true only for killed processes, and
 *    one repairer runs, which does not die.
 *  - futex_wait() sleeps only if the word still holds ev, atomically;
 *    with -DWAKE_ONE, FUTEX_WAKE(1) wakes any one sleeper of the word
 *    (the kernel wakes in order; any is a superset).
 *  - Sleepers also wake every second (DMXP_SLEEP_SLICE_NS).
 *    The model has no such slice, so a sleeper that depends on it is a
 *    lost wake-up, with one exception: a waker killed between its publish
 *    (free) and its futex_wake() owes a wake-up nobody else will give;
 *    only then may each sleeper of the other side announced at that
 *    death wake once as its slice ends (slice[]).
 *
 * Properties (assertions; pan also reports invalid end states):
 *  - no lost wake-up: when nothing can move, no live consumer sleeps
 *    while a message is ready, and no live producer sleeps while the
 *    slot at tail is free;
 *  - no duplicate: each message is received at most once, and never
 *    both received and lost with a dead consumer;
 *  - per-producer FIFO: each consumer receives a producer's messages in
 *    the order it sent them; and what a producer leaves whole is a
 *    prefix of what it sent (a batch cut short by its death too);
 *  - loss only of dead claims: every message whose producer wrote it
 *    whole (SEND_WRITTEN, so also every send that returned) is received,
 *    or left in the ring for a consumer, or was taken by a consumer that
 *    died holding it; a message that was never whole is never received;
 *  - no live claim repaired: a producer's publish (a consumer's free)
 *    finds the slot as its claim left it (the CAS of dmxp__publish()
 *    and dmxp__free() in include/dmxp.h never fails but for a dead claim);
 *  - no stuck ring: when nothing can move, every position in
 *    [head, tail) is published and every slot after tail is free, so
 *    the ring drains; no consumer or producer sees the protocol
 *    contradicted (-EPROTO);
 *  - the waiter words hold exactly the live announced sleepers, plus the
 *    counts of processes that died between adding themselves and
 *    recording it (or between clearing the record and subtracting),
 *    which lib/wait.c documents as left.
 *
 * The rules, and the flags that select the older ones (each of which the
 * model shows wrong; selftests/test_model.sh checks that it does):
 *
 *  chan_ready() (lib/wait.c; ring_readable(), ring_writable() in
 *  kmod/chan.c): h = head; s = slot(h).sequence: ready if s == h + 1, not
 *  ready if s < h + 1, else (the slot was taken, and maybe freed, since
 *  head was read) reload head and look again; after READY_TRIES looks,
 *  ready (the caller tries its op again).  The send side is the same
 *  with tail and s == tail.
 *	-DOLD_READY: ready iff s == h + 1, a slot already taken counts as
 *	empty: a consumer sleeps with a message in the ring.
 *
 *  shm_notify() (lib/file.c) wakes every sleeper of the futex word
 *  (FUTEX_WAKE INT_MAX), as the module's wait queues do: one publish can
 *  make several messages ready at head (a later position published
 *  first, while its waker saw no sleeper).
 *	-DWAKE_ONE: FUTEX_WAKE(n) for n messages: one sleeper takes the
 *	message it was woken for and stops, the other sleeps with the next.
 *
 *  covered() (lib/repair.c; kmod/repair.c): a position is left for a
 *  later pass while a live owner's record names it, and a SEND record's
 *  tombstone also yields to any record that says the position was
 *  written whole (SEND_WRITTEN is only ever written by the owner of a
 *  successful claim, so the SEND record's own CAS failed).
 *	-DTOMB_FIRST: only live records count: with two producers killed on
 *	one position (one whole, the other between [R1] and its CAS), the
 *	repair may tombstone the whole message first.
 *
 *  repair_record() (lib/repair.c; kmod/repair.c) repairs every position
 *  of [pos, pos + count) that a record names.
 *	-DREPAIR_FIRST: only pos: a batch's producer killed after its
 *	claim leaves the run's second slot unpublished, and the ring stops.
 *
 *  With -DBATCH, rules of dmxp_chan_send_batch() and recv_batch() that
 *  the code must keep (lib/ring.c), each of which the model shows needed:
 *	-DEARLY_W1: a send of two looks for sleepers between its two
 *	publishes: a consumer that took the first message and announced in
 *	between sleeps with the second.
 *	-DPUBLISH_REVERSED: the send publishes its run from the last
 *	message: a producer killed in between has its second message
 *	delivered and its first tombstoned (not a prefix).
 *
 * Sizes: -DM0=, -DM1= messages per producer (0 to 2, 1 each by default),
 * -DNCONS=1 one consumer, -DMAXCRASH=1 or 2 processes killed per run (0
 * by default: no records, no repairer, no killer), -DREADY_TRIES=,
 * -DBATCH (producer 0 and consumer 2 use the batch calls).
 *
 * Run: lib/model/run-model [-k] [FLAG...] (one configuration), or
 * `make model` (all of them).  By hand:
 *	spin -a -DOLD_READY ring.pml
 *	gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m400000
 *	spin -t -p -DOLD_READY ring.pml		(replays a counterexample)
 * Documentation/MEMORY_LAYOUT.md section 15 maps each step to the code
 * and gives the measured state counts and times.
 */

#ifndef M0
#define M0	1		/* messages producer 0 sends */
#endif
#ifndef M1
#define M1	1		/* messages producer 1 sends */
#endif
#ifndef NCONS
#define NCONS	2		/* consumers: 2, or 1 */
#endif
#ifndef MAXCRASH
#define MAXCRASH 0		/* processes killed per run, at most */
#endif
#ifndef READY_TRIES
#define READY_TRIES 3		/* chan_ready()'s looks before "ready" */
#endif

#define CAP	2
#define MAXM	2		/* message ids: producer * MAXM + k + 1 */
#if M0 > MAXM || M1 > MAXM
#error "at most MAXM messages per producer"
#endif
#define NMSG	(2 * MAXM)
#if defined(WAKE_ONE) && defined(BATCH)
#error "-DWAKE_ONE wakes one sleeper per message; a batch's wake-up is one call"
#endif
#define NREC	4		/* producers 0, 1; consumers 2, 3 */
#define REPAIRING(p)	((p) - 64)	/* DMXP_SEQ_REPAIRING */
#define TAKEN	9		/* owner of a record taken over by the repairer */

/* struct dmxp_claim.state */
#define IDLE		0
#define SEND		1
#define SEND_WRITTEN	2
#define RECV		3
#define WAIT_RECV	5
#define WAIT_SEND	6

/* The channel entry and the ring. */
byte tail, head;
short seq[CAP];			/* slot.sequence */
byte data[CAP];			/* the message a slot holds (0: none) */
bool tomb[CAP];			/* meta.flags & DMXP_MSG_TOMBSTONE */
byte recv_waiters, send_waiters, recv_futex, send_futex;

/* The claim table: one record per process, owner = index + 1. */
byte rstate[NREC], rpos[NREC], rcount[NREC], rowner[NREC];

/* Ghost state: what happened, for the checks. */
bool kill[NREC], dead[NREC], fin[NREC];
bool asleep[NREC];		/* queued in futex_wait() */
bool counted[NREC];		/* added to a waiter word, not yet subtracted */
bool inwake[NREC];		/* published (freed), wake-up not yet done */
bool slice[NREC];		/* may wake at its slice: a waker died owing it */
byte hm[NREC];			/* the message a consumer has claimed */
byte hm2[NREC];			/* -DBATCH: the second message of its run */
byte got[NMSG + 1];		/* times each message was received */
bool whole[NMSG + 1];		/* written whole (SEND_WRITTEN) */
bool dlost[NMSG + 1];		/* taken by a consumer that died */
byte leak_recv, leak_send;	/* counts left by a death (documented) */
byte crashes;

/*
 * The notify of shm_notify() on the futex word of consumers
 * (producers): -DWAKE_ONE wakes one sleeper per message published
 * (freed), FUTEX_WAKE(n); the default wakes them all.
 */
#ifdef WAKE_ONE
inline wake_consumers()
{
	atomic {
		if
		:: asleep[2] -> asleep[2] = false
		:: asleep[3] -> asleep[3] = false
		:: else -> skip
		fi
	}
}

inline wake_producers()
{
	atomic {
		if
		:: asleep[0] -> asleep[0] = false
		:: asleep[1] -> asleep[1] = false
		:: else -> skip
		fi
	}
}
#else
/* FUTEX_WAKE(INT_MAX): every sleeper of the word. */
inline wake_consumers()
{
	atomic { asleep[2] = false; asleep[3] = false }
}

inline wake_producers()
{
	atomic { asleep[0] = false; asleep[1] = false }
}
#endif

/* Outcomes of one step of a claim loop (c). */
#define DONE	1		/* chan_ready(): decided */
#define TRY	2		/* the slot is ready: claim it */
#define AGAIN	3		/* ring full (empty): -EAGAIN */
#define MOVED	4		/* taken by another: reload tail (head) */
#define GOT	5		/* claimed */

/*
 * chan_ready(c, DMXP_NOTIFY_RECV) (want = 1) or DMXP_NOTIFY_SEND (want =
 * 0, with tail): each load is one step; what follows it is local.
 */
inline chan_ready(pos_var, want, res)
{
#ifdef OLD_READY
	h = pos_var;
	atomic { res = (seq[h % CAP] == h + want); h = 0 }
#else
	do
	:: h = pos_var;
	   atomic {
		s = seq[h % CAP];
		if
		:: s == h + want -> res = true; c = DONE
		:: s < h + want -> res = false; c = DONE
		:: else ->
			/* taken (and freed) already: look again */
			tries++;
			if
			:: tries >= READY_TRIES -> res = true; c = DONE
			:: else -> c = 0
			fi
		fi;
		s = 0;
		h = 0
	   };
	   if
	   :: c == DONE -> break
	   :: else -> skip
	   fi
	od;
	atomic { tries = 0; c = 0 }
#endif
}

/* The escape of a killed process: the bookkeeping of its death. */
inline crash(me, consumer)
{
	dead[me] = true;
	asleep[me] = false;
	if
	:: hm[me] != 0 -> dlost[hm[me]] = true; hm[me] = 0
	:: else -> skip
	fi;
	if
	:: hm2[me] != 0 -> dlost[hm2[me]] = true; hm2[me] = 0
	:: else -> skip
	fi;
	if
	:: counted[me] && rstate[me] != WAIT_RECV && rstate[me] != WAIT_SEND ->
		if
		:: consumer -> leak_recv++
		:: else -> leak_send++
		fi
	:: else -> skip
	fi;
	/* The sleepers of the other side, announced now, wake at their slice. */
	if
	:: inwake[me] && consumer -> slice[0] = counted[0]; slice[1] = counted[1]
	:: inwake[me] && !consumer -> slice[2] = counted[2]; slice[3] = counted[3]
	:: else -> skip
	fi
}

/*
 * Without deaths there is nothing to repair: no records, no repairer, no
 * killer, which keeps the run without deaths small.
 */
#if MAXCRASH > 0
#define KILLABLE(consumer)	unless { atomic { kill[me] -> crash(me, consumer) } }
#define REC(st)		rstate[me] = st
#define REC_AT(st, p)	atomic { rstate[me] = st; rpos[me] = p; rcount[me] = 1 }
#define REC_RUN(st, p, n) atomic { rstate[me] = st; rpos[me] = p; rcount[me] = n }
#else
#define KILLABLE(consumer)
#define REC(st)
#define REC_AT(st, p)
#define REC_RUN(st, p, n)
#endif

/*
 * chan_announce(), the re-check, the sleep and chan_unannounce() of
 * wait_loop() (lib/wait.c), for side WAITERS/FUTEX/WAIT_STATE.
 */
#define SLEEP(WAITERS, FUTEX, WAIT_STATE, POSV, WANT, LABEL)			\
	atomic { WAITERS++; counted[me] = true };	/* announce */		\
	REC(WAIT_STATE);				/* wait_record() */	\
	ev = FUTEX;								\
	/* [S1]: sequentially consistent here */				\
	chan_ready(POSV, WANT, rdy);						\
	if									\
	:: rdy -> skip								\
	:: else ->								\
		/* shm_wait(): futex_wait(FUTEX, ev) */				\
		atomic {							\
			if							\
			:: FUTEX == ev -> asleep[me] = true			\
			:: else -> skip						\
			fi							\
		};								\
LABEL:		if								\
		:: !asleep[me]							\
		:: atomic { slice[me] && asleep[me] -> slice[me] = false; asleep[me] = false } \
		fi								\
	fi;									\
	REC(IDLE);			/* chan_unannounce(), or the undo */	\
	atomic { WAITERS--; counted[me] = false; slice[me] = false; ev = 0; rdy = false }

proctype producer(byte me; byte n)
{
	byte k, pos, m, ev, h, tries, c;
	short s;
	bool rdy;

	{
		do
		:: k < n ->
			m = me * MAXM + k + 1;
			/* wait_loop(c, DMXP_NOTIFY_SEND, ..., send_op) */
			do
			:: /* dmxp_chan_send(): ring_claim_produce() */
				pos = tail;
				do
				:: atomic {		/* [P1] */
					s = seq[pos % CAP];
					if
					:: s == pos -> c = TRY
					:: s < pos -> c = AGAIN	/* an older lap: full */
					:: else -> c = MOVED
					fi;
					s = 0
				   };
				   if
				   :: c == TRY ->
					/* [R1] dmxp__claim_try(SEND, pos, 1) */
					REC_AT(SEND, pos);
					/* [R2] cas_release(tail, pos, pos + 1) */
					atomic {
						if
						:: tail == pos -> tail = pos + 1; c = GOT
						:: else -> pos = tail
						fi
					};
					if
					:: c == GOT -> break
					:: else -> skip
					fi
				   :: c == AGAIN -> break
				   :: c == MOVED ->
					/* another producer took pos: tail moved */
					atomic { assert(tail != pos); pos = tail }
				   fi
				od;
				if
				:: c == GOT -> break
				:: else ->
					atomic { c = 0; REC(IDLE) }	/* dmxp__claim_drop() */
					SLEEP(send_waiters, send_futex, WAIT_SEND, tail, 0,
					      end_psleep)
				fi
			od;
			/*
			 * The slot is ours: the payload and the meta, then
			 * SEND_WRITTEN (one step: nobody reads an owned slot).
			 */
			atomic {
				assert(seq[pos % CAP] == pos);
				data[pos % CAP] = m;
				tomb[pos % CAP] = false;
				REC(SEND_WRITTEN);
				whole[m] = true
			};
			/* [P2] dmxp__publish(): no repair takes a live claim */
			atomic {
				assert(seq[pos % CAP] == pos);
				seq[pos % CAP] = pos + 1;
				inwake[me] = true
			};
			REC(IDLE);				/* [R3] */
			/* dmxp__wake_consumers(): [W1], then notify */
			if
			:: recv_waiters != 0 ->
				recv_futex++;
				wake_consumers()
			:: else -> skip
			fi;
			atomic { inwake[me] = false; pos = 0; m = 0; c = 0; k++ }
		:: else -> break
		od;
		fin[me] = true
	} KILLABLE(false)
}

proctype consumer(byte me)
{
	byte pos, m, ev, h, tries, c;
	byte last[2];			/* the last k received from each producer */
	short s;
	bool rdy;

	{
		do
		:: /* dmxp_chan_recv_wait(), once more */
			do
			:: /* dmxp_chan_recv(): ring_claim_one(), ring_claim_consume() */
				pos = head;
				do
				:: atomic {		/* [C1] */
					s = seq[pos % CAP];
					if
					:: s == pos + 1 -> c = TRY
					:: s < pos + 1 -> c = AGAIN	/* not published: empty */
					:: else -> c = MOVED
					fi;
					s = 0
				   };
				   if
				   :: c == TRY ->
					/* [R1] dmxp__claim_try(RECV, pos, 1) */
					REC_AT(RECV, pos);
					/* [R2] cas_release(head, pos, pos + 1) */
					atomic {
						if
						:: head == pos ->
							head = pos + 1;
							c = GOT;
							assert(seq[pos % CAP] == pos + 1);
							hm[me] = (tomb[pos % CAP] -> 0 : data[pos % CAP])
						:: else -> pos = head
						fi
					};
					if
					:: c == GOT -> break
					:: else -> skip
					fi
				   :: c == AGAIN -> break
				   :: c == MOVED ->
					/* another consumer took pos: head moved */
					atomic { assert(head != pos); pos = head }
				   fi
				od;
				if
				:: c == GOT && tomb[pos % CAP] ->
					/* ring_claim_one(): a tombstone, skip it */
					atomic {
						assert(seq[pos % CAP] == pos + 1);
						seq[pos % CAP] = pos + CAP;
						inwake[me] = true;
						c = 0
					};
					if
					:: send_waiters != 0 ->
						send_futex++;
						wake_producers()
					:: else -> skip
					fi;
					atomic { inwake[me] = false; pos = 0 }
				:: c == GOT && !tomb[pos % CAP] -> break
				:: c == AGAIN ->
					atomic { c = 0; REC(IDLE) }	/* dmxp__claim_end() */
					SLEEP(recv_waiters, recv_futex, WAIT_RECV, head, 1,
					      end_csleep)
				fi
			od;
			/*
			 * The message is ours: copy it and [C2] ring_free() (one
			 * step: nobody writes an owned slot).
			 */
			atomic {
				m = data[pos % CAP];
				assert(m != 0 && m == hm[me]);
				assert(seq[pos % CAP] == pos + 1);	/* not repaired */
				seq[pos % CAP] = pos + CAP;
				inwake[me] = true
			};
			REC(IDLE);				/* [R3] */
			/* dmxp__wake_producers(): [W1], then notify */
			if
			:: send_waiters != 0 ->
				send_futex++;
				wake_producers()
			:: else -> skip
			fi;
			/* dmxp_chan_recv_wait() returns the message. */
			atomic {
				inwake[me] = false;
				assert(got[m] == 0 && !dlost[m]);	/* no duplicate */
				got[m]++;
				/* per-producer FIFO: k + 1 above the last one */
				assert((m - 1) % MAXM + 1 > last[(m - 1) / MAXM]);
				last[(m - 1) / MAXM] = (m - 1) % MAXM + 1;
				hm[me] = 0;
				m = 0;
				pos = 0;
				c = 0
			}
		:: break	/* the consumer stops receiving */
		od;
		fin[me] = true
	} KILLABLE(true)
}

#ifdef BATCH
/*
 * dmxp_chan_send_batch() (lib/ring.c) in wait_loop(): the n messages in
 * calls of up to two, each claiming the run of free slots at tail with
 * one record (count = the run) and one CAS, writing every message of the
 * run marked a tombstone, then publishing them in position order (the
 * flag cleared, then dmxp__publish()), then one wake-up.  No
 * SEND_WRITTEN: a batch's unpublished messages are tombstoned by a repair.
 */
proctype batch_producer(byte me; byte n)
{
	byte k, i, j, nrun, pos, ev, h, tries, c;
	short s;
	bool rdy, early, looked;

	{
		do
		:: k < n ->
			do
			:: /* ring_claim_produce(c, n - k) */
				pos = tail;
				do
				:: atomic {		/* [P1], the run's first slot */
					s = seq[pos % CAP];
					if
					:: s == pos -> c = TRY
					:: s < pos -> c = AGAIN	/* an older lap: full */
					:: else -> c = MOVED
					fi;
					s = 0
				   };
				   if
				   :: c == TRY ->
					/* [P1], its second, with two to send */
					nrun = 1;
					if
					:: n - k >= 2 ->
						atomic {
							if
							:: seq[(pos + 1) % CAP] == pos + 1 -> nrun = 2
							:: else -> skip
							fi
						}
					:: n - k >= 2 -> skip	/* the caller asked for one */
					:: else -> skip
					fi;
					/* [R1] dmxp__claim_try(SEND, pos, nrun) */
					REC_RUN(SEND, pos, nrun);
					/* [R2] cas_release(tail, pos, pos + nrun) */
					atomic {
						if
						:: tail == pos -> tail = pos + nrun; c = GOT
						:: else -> pos = tail
						fi
					};
					if
					:: c == GOT -> break
					:: else -> nrun = 0
					fi
				   :: c == AGAIN -> break
				   :: c == MOVED ->
					atomic { assert(tail != pos); pos = tail }
				   fi
				od;
				if
				:: c == GOT -> break
				:: else ->
					atomic { c = 0; REC(IDLE) }	/* dmxp__claim_drop() */
					SLEEP(send_waiters, send_futex, WAIT_SEND, tail, 0,
					      end_bpsleep)
				fi
			od;
			/* The run's messages, each a tombstone until its publish. */
			i = 0;
			do
			:: i < nrun ->
				atomic {
					assert(seq[(pos + i) % CAP] == pos + i);
					data[(pos + i) % CAP] = me * MAXM + k + i + 1;
					tomb[(pos + i) % CAP] = true;
					i++
				}
			:: else -> break
			od;
			/* Published in position order: the look, the flag, the CAS. */
			i = 0;
			do
			:: i < nrun ->
#ifdef PUBLISH_REVERSED
				j = nrun - 1 - i;
#else
				j = i;
#endif
#ifdef EARLY_W1
				/* a run of two: the sleepers looked for between its publishes */
				if
				:: nrun == 2 && i == 1 -> early = (recv_waiters != 0); looked = true
				:: else -> skip
				fi;
#endif
				assert(seq[(pos + j) % CAP] == pos + j);	/* not repaired */
				tomb[(pos + j) % CAP] = false;
				/* [P2] dmxp__publish(): no repair takes a live claim */
				atomic {
					assert(seq[(pos + j) % CAP] == pos + j);
					seq[(pos + j) % CAP] = pos + j + 1;
					whole[me * MAXM + k + j + 1] = true;
					inwake[me] = true;
					i++
				}
			:: else -> break
			od;
			REC(IDLE);				/* [R3] */
			/* dmxp__wake_consumers(c, nrun): [W1], then notify */
#ifdef EARLY_W1
			if
			:: (looked && early) || (!looked && recv_waiters != 0) ->
#else
			if
			:: recv_waiters != 0 ->
#endif
				recv_futex++;
				wake_consumers()
			:: else -> skip
			fi;
			atomic { inwake[me] = false; k = k + nrun; pos = 0; nrun = 0; i = 0; j = 0; c = 0;
				 early = false; looked = false }
		:: else -> break
		od;
		fin[me] = true
	} KILLABLE(false)
}

/*
 * dmxp_chan_recv_batch(c, msgs, 2) (lib/ring.c) in a wait loop: claim
 * the run of published slots at head (tombstones in it too) with one
 * record and one CAS, copy its messages, free its slots from the last
 * back, then one wake-up; a run of tombstones only returns nothing.
 */
proctype batch_consumer(byte me)
{
	byte i, nrun, pos, m, ev, h, tries, c;
	byte last[2];			/* the last k received from each producer */
	short s;
	bool rdy;

	{
		do
		:: do
			:: /* ring_claim_consume(c, 2) */
				pos = head;
				do
				:: atomic {		/* [C1], the run's first slot */
					s = seq[pos % CAP];
					if
					:: s == pos + 1 -> c = TRY
					:: s < pos + 1 -> c = AGAIN	/* not published: empty */
					:: else -> c = MOVED
					fi;
					s = 0
				   };
				   if
				   :: c == TRY ->
					/* [C1], its second */
					nrun = 1;
					if
					:: atomic {
						if
						:: seq[(pos + 1) % CAP] == pos + 2 -> nrun = 2
						:: else -> skip
						fi
					   }
					:: skip	/* the caller has one entry, or it does not fit */
					fi;
					/* [R1] dmxp__claim_try(RECV, pos, nrun) */
					REC_RUN(RECV, pos, nrun);
					/* [R2] cas_release(head, pos, pos + nrun) */
					atomic {
						if
						:: head == pos ->
							head = pos + nrun;
							c = GOT;
							assert(seq[pos % CAP] == pos + 1);
							hm[me] = (tomb[pos % CAP] -> 0 : data[pos % CAP]);
							if
							:: nrun == 2 ->
								assert(seq[(pos + 1) % CAP] == pos + 2);
								hm2[me] = (tomb[(pos + 1) % CAP] -> 0 :
									   data[(pos + 1) % CAP])
							:: else -> skip
							fi
						:: else -> pos = head
						fi
					};
					if
					:: c == GOT -> break
					:: else -> nrun = 0
					fi
				   :: c == AGAIN -> break
				   :: c == MOVED ->
					atomic { assert(head != pos); pos = head }
				   fi
				od;
				if
				:: c == GOT -> break
				:: else ->
					atomic { c = 0; REC(IDLE) }	/* dmxp__claim_drop() */
					SLEEP(recv_waiters, recv_futex, WAIT_RECV, head, 1,
					      end_bcsleep)
				fi
			od;
			/* The copies (one step: nobody writes an owned slot). */
			atomic {
				assert(seq[pos % CAP] == pos + 1);
				assert(hm[me] == (tomb[pos % CAP] -> 0 : data[pos % CAP]));
				assert(nrun == 1 || hm2[me] == (tomb[(pos + 1) % CAP] -> 0 :
							       data[(pos + 1) % CAP]))
			};
			/* [C2] ring_free(), from the last slot back */
			i = nrun;
			do
			:: i > 0 ->
				atomic {
					assert(seq[(pos + i - 1) % CAP] == pos + i);	/* not repaired */
					seq[(pos + i - 1) % CAP] = pos + i - 1 + CAP;
					inwake[me] = true;
					i--
				}
			:: else -> break
			od;
			REC(IDLE);				/* [R3] */
			/* dmxp__wake_producers(c, nrun): [W1], then notify */
			if
			:: send_waiters != 0 ->
				send_futex++;
				wake_producers()
			:: else -> skip
			fi;
			/* The call returns the run's messages, in order. */
			atomic {
				inwake[me] = false;
				m = hm[me];
				if
				:: m != 0 ->
					assert(got[m] == 0 && !dlost[m]);	/* no duplicate */
					got[m]++;
					assert((m - 1) % MAXM + 1 > last[(m - 1) / MAXM]);
					last[(m - 1) / MAXM] = (m - 1) % MAXM + 1
				:: else -> skip
				fi;
				m = hm2[me];
				if
				:: m != 0 ->
					assert(got[m] == 0 && !dlost[m]);
					got[m]++;
					assert((m - 1) % MAXM + 1 > last[(m - 1) / MAXM]);
					last[(m - 1) / MAXM] = (m - 1) % MAXM + 1
				:: else -> skip
				fi;
				hm[me] = 0;
				hm2[me] = 0;
				m = 0;
				pos = 0;
				nrun = 0;
				c = 0
			}
		:: break	/* the consumer stops receiving */
		od;
		fin[me] = true
	} KILLABLE(true)
}
#endif

/* Record j names position p (dmxp_rules_names()). */
#define NAMES(j, p)	(rpos[j] <= (p) && (p) < rpos[j] + rcount[j])

/* The record of a dead owner, taken over by CAS of its owner. */
#define TAKE(j)	dead[j] && rowner[j] == j + 1 && rstate[j] != IDLE -> \
		rowner[j] = TAKEN; i = j

proctype repairer()
{
	byte i, j, p, q, n, base, st;
	short s;
	bool cov, pending, wake;

end_repair:
	do
	:: atomic {
		if
		:: TAKE(0)
		:: TAKE(1)
		:: TAKE(2)
		:: TAKE(3)
		fi
	   };
	   /* repair_record() */
#ifdef REPAIR_FIRST
	   atomic { st = rstate[i]; base = rpos[i]; n = 1 };
#else
	   atomic { st = rstate[i]; base = rpos[i]; n = rcount[i] };
#endif
	   if
	   :: st == WAIT_RECV ->
		atomic { if :: recv_waiters > 0 -> recv_waiters-- :: else -> skip fi }
	   :: st == WAIT_SEND ->
		atomic { if :: send_waiters > 0 -> send_waiters-- :: else -> skip fi }
	   :: st == SEND || st == SEND_WRITTEN || st == RECV ->
	     /* each position the record names, one after the other */
	     q = 0;
	     do
	     :: q < n ->
		p = base + q;
		s = seq[p % CAP];
		if
		:: (st != RECV && s == p && tail > p) ||
		   (st == RECV && s == p + 1 && head > p) ->
			/*
			 * covered(): a live owner's record names p too?  And
			 * (without -DTOMB_FIRST) a SEND repair yields to any
			 * record that says p is whole.
			 */
			j = 0;
			do
			:: j < NREC ->
				atomic {
					if
					:: j != i && rowner[j] == j + 1 && !dead[j] &&
					   NAMES(j, p) &&
					   ((st == RECV && rstate[j] == RECV) ||
					    (st != RECV && (rstate[j] == SEND ||
							    rstate[j] == SEND_WRITTEN))) ->
						cov = true
#ifndef TOMB_FIRST
					:: j != i && rowner[j] != 0 && st == SEND &&
					   rstate[j] == SEND_WRITTEN && NAMES(j, p) ->
						/*
						 * A dead owner's record says p was written
						 * whole: this SEND record's CAS failed, and
						 * p is delivered by that record's repair.
						 */
						cov = true
#endif
					:: else -> skip
					fi;
					j++
				}
			:: else -> break
			od;
			j = 0;
			if
			:: cov -> pending = true
			:: !cov && st == SEND_WRITTEN ->
				/* whole: deliver it */
				atomic { if :: seq[p % CAP] == p -> seq[p % CAP] = p + 1
					    :: else -> skip fi };
				wake = true
			:: !cov && st == SEND ->
				/* tombstone(): mark, write the meta, publish */
				atomic { if :: seq[p % CAP] == p -> seq[p % CAP] = REPAIRING(p); cov = true
					    :: else -> skip fi };
				if
				:: cov ->
					atomic { tomb[p % CAP] = true; data[p % CAP] = 0 };
					seq[p % CAP] = p + 1
				:: else -> skip
				fi;
				wake = true
			:: !cov && st == RECV ->
				/* freed: the message went with the dead consumer */
				atomic { if :: seq[p % CAP] == p + 1 -> seq[p % CAP] = p + CAP
					    :: else -> skip fi };
				wake = true
			fi
		:: else -> skip		/* published (freed), or never claimed */
		fi;
		atomic { q++; s = 0; cov = false }
	     :: else -> break
	     od
	   :: else -> skip
	   fi;
	   /* Give the record back for a later pass, or free it. */
	   if
	   :: pending -> rowner[i] = i + 1
	   :: else -> atomic { rstate[i] = IDLE; rowner[i] = 0 }
	   fi;
	   /* dmxp__shm_wake_all() */
	   if
	   :: wake ->
		recv_futex++;
		send_futex++;
		atomic { asleep[2] = false; asleep[3] = false };
		atomic { asleep[0] = false; asleep[1] = false }
	   :: else -> skip
	   fi;
	   atomic { i = 0; p = 0; q = 0; n = 0; base = 0; st = 0; s = 0; cov = false;
		    pending = false; wake = false }
	od
}

proctype killer()
{
	do
	:: atomic { crashes < MAXCRASH && !fin[0] && !kill[0] -> kill[0] = true; crashes++ }
	:: atomic { crashes < MAXCRASH && !fin[1] && !kill[1] -> kill[1] = true; crashes++ }
	:: atomic { crashes < MAXCRASH && !fin[2] && !kill[2] -> kill[2] = true; crashes++ }
	:: atomic { crashes < MAXCRASH && !fin[3] && !kill[3] -> kill[3] = true; crashes++ }
	:: break
	od
}

/* Is a message (not a tombstone) published in [head, tail)? */
#define READY_AT(p)	(head <= (p) && (p) < tail && seq[(p) % CAP] == (p) + 1 && \
			 !tomb[(p) % CAP])
#define MSG_READY	(READY_AT(head) || READY_AT(head + 1))
#define SLEEPS(j)	(asleep[j] && !dead[j])
#define LIVE_COUNTED(a, b)	((counted[a] && !dead[a]) + (counted[b] && !dead[b]))

proctype monitor()
{
	byte p, m;
	bool lost_recv_wakeup, lost_send_wakeup;

	timeout ->
	d_step {
		/* no lost wake-up */
		lost_recv_wakeup = (SLEEPS(2) || SLEEPS(3)) && MSG_READY;
		lost_send_wakeup = (SLEEPS(0) || SLEEPS(1)) && seq[tail % CAP] == tail;
		assert(!lost_recv_wakeup);
		assert(!lost_send_wakeup);
		/* exact waiter words */
		assert(recv_waiters == LIVE_COUNTED(2, 3) + leak_recv);
		assert(send_waiters == LIVE_COUNTED(0, 1) + leak_send);
		/* no stuck ring: [head, tail) published, the rest free */
		assert(tail - head <= CAP);
		p = head;
		do
		:: p < tail ->
			assert(seq[p % CAP] == p + 1);	/* stuck_ring */
			if
			:: !tomb[p % CAP] ->
				/* drained by a consumer that comes later */
				m = data[p % CAP];
				assert(m != 0 && got[m] == 0 && !dlost[m]);
				got[m]++
			:: else -> skip
			fi;
			p++
		:: p >= tail && p < head + CAP ->
			assert(seq[p % CAP] == p);	/* stuck_ring */
			p++
		:: else -> break
		od;
		/* loss only of dead claims */
		m = 1;
		do
		:: m <= NMSG ->
			assert(!whole[m] || got[m] == 1 || dlost[m]);
			assert(whole[m] || (got[m] == 0 && !dlost[m]));
			/* a prefix: whole only after the producer's one before */
			assert(m % MAXM == 1 || !whole[m] || whole[m - 1]);
			m++
		:: else -> break
		od
	}
}

init
{
	atomic {
		rowner[0] = 1; rowner[1] = 2; rowner[2] = 3; rowner[3] = 4;
		rcount[0] = 1; rcount[1] = 1; rcount[2] = 1; rcount[3] = 1;
		seq[0] = 0; seq[1] = 1;
#ifdef BATCH
		run batch_producer(0, M0);
#else
		run producer(0, M0);
#endif
		run producer(1, M1);
#ifdef BATCH
		run batch_consumer(2);
#else
		run consumer(2);
#endif
#if NCONS > 1
		run consumer(3);
#else
		fin[3] = true;
#endif
#if MAXCRASH > 0
		run repairer();
		run killer();
#endif
		run monitor()
	}
}
