/* The highest seq stored in a conversation, from the messages themselves.
 * A conversation's lastSeq (its summary) is written behind its messages
 * (docs/architecture.md, "Seq"): it may be behind the highest stored seq
 * S, never ahead, and the stored seqs are 1..S with no gap. So S is found
 * from lastSeq by point reads of {conversationId, seq}, which the unique
 * (conversationId, seq) index serves: one read when lastSeq is S,
 * otherwise a gallop forward and a bisection, about 2 log2(S - lastSeq)
 * reads. Used where a summary that trails would be wrong, not merely
 * stale: the partition owner's next seq, and "read up to the latest". */
#ifndef CHAT_STORED_SEQ_H
#define CHAT_STORED_SEQ_H

#include <mongoc/mongoc.h>
#include <stdint.h>

#include "chat/err.h"

/* Sets *out to the highest seq stored in conversation_id of messages (the
 * "messages" collection), given last_seq, a seq known to be stored or 0.
 * Returns CHAT_OK, or the store's error (logged), *out then last_seq. */
chat_err_t chat_highest_stored_seq(mongoc_collection_t *messages, const char *conversation_id,
                                   int64_t last_seq, int64_t *out);

#endif
