/* The partition owner's copy of what it writes: each conversation's state
 * (kind, members, deleted, the highest seq stored, the reply window) and
 * user names. Every command that changes a conversation is keyed by it,
 * so it lands on one partition with one owner, whose copy is therefore
 * the truth as long as it owns the partition. A conversation is read from
 * the store (point reads by _id) the first time the owner touches it, and
 * everything is dropped when partitions are assigned or revoked. Bounded
 * by CHAT_CACHED_CONVERSATIONS and CHAT_CACHED_USERS, least recently used
 * dropped first. Used from the consumer thread only (a prefetch's reads
 * run on threads of their own; it keeps what they read on the caller's).
 *
 * Where the next seq comes from (docs/architecture.md, "Seq"): stored seqs
 * of a conversation are 1..S with no gap, because every run inserts in
 * order and a seq is never given to two messages nor skipped. The
 * conversation's lastSeq is written after its messages, so it may be
 * behind S (the writer died in between) but never ahead. On load, S is
 * found from lastSeq by probing {conversationId, seq} point reads forward
 * (one read when lastSeq is S, about 2 log2(S - lastSeq) otherwise). The
 * copy moves only after the store took a run's writes. */
#ifndef PERSISTENCE_CONVERSATION_STATE_H
#define PERSISTENCE_CONVERSATION_STATE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"
#include "chat/ids.h"
#include "chat/runtime.h"
#include "reply_window.h"
#include "state_cache.h"

typedef struct conversation_state {
  bool direct;  /* kind "direct" */
  bool deleted; /* deletedAt is set: nothing more goes in */
  size_t member_count;
  char (*members)[CHAT_ID_SIZE]; /* the participants, in the stored order */
  int64_t last_seq;              /* the highest seq stored */
  awaiting_t awaiting[2];        /* direct only: the reply window */
} conversation_state_t;

/* Looks conversation id up, reading it from the store on a miss. Returns
 * CHAT_OK with *out pointing at the kept state (valid until the next call
 * into this module; copy what you keep) or NULL when there is no such
 * conversation; or the store's error (nothing kept). */
chat_err_t conversation_state_get(chat_runtime_t *rt, mongoc_client_t *client, const char *id,
                                  const conversation_state_t **out);

/* Keeps a copy of state for id, which was just stored (a new direct
 * conversation) or moved (a run stored messages and wrote its summary). */
void conversation_state_keep(const char *id, const conversation_state_t *state);

/* Drops what is kept for id: the store was changed by another path
 * (membership, deletion) and is read again on next use. */
void conversation_state_forget(const char *id);

/* Looks a user's name up, reading it on a miss. Returns CHAT_OK with
 * *name (valid until the next call into this module) or NULL when there is
 * no such user; or the store's error. */
chat_err_t conversation_state_user_name(chat_runtime_t *rt, mongoc_client_t *client,
                                        const char *user_id, const char **name);

/* Reads the conversations and users of a run that are not kept yet from
 * the store at once, over up to 4 pooled clients, and keeps what it found,
 * so that the gets after it answer from memory: a new owner's first runs
 * (after a start or a rebalance) wait for one round of point reads, not
 * for one after the other. Best effort: what it could not read, the get
 * reads (and reports the error of). What no get takes is dropped by the
 * next prefetch, and forgotten with its conversation (keep, forget). */
void conversation_state_prefetch(chat_runtime_t *rt, const char *const *conversation_ids,
                                 size_t conversation_count, const char *const *user_ids,
                                 size_t user_count);

/* The caches' counters so far (hits, misses, evictions, sizes). */
state_cache_stats_t conversation_state_stats(void);
state_cache_stats_t conversation_state_user_stats(void);

#endif
