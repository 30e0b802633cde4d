/* Who has read a message of a group, from the members' read watermarks
 * (issue 21, "Who read it"): the receipts service keeps one watermark per
 * member and conversation (read_states: lastReadSeq, lastReadAt), never a
 * document per reader per message, so a member has read a message when
 * their watermark has reached its seq. Pure: no store, so that the rule
 * is unit-tested alone. */
#ifndef GATEWAY_MESSAGE_READERS_H
#define GATEWAY_MESSAGE_READERS_H

#include <stddef.h>
#include <stdint.h>

/* One member's watermark in a conversation. */
typedef struct read_watermark {
  const char *user_id;
  int64_t last_read_seq; /* every message up to this seq is read */
  int64_t last_read_at;  /* ms: when the watermark last moved */
} read_watermark_t;

/* Writes to readers (room for member_count) the index in marks of each
 * member who has read the message of seq sent by sender_id: a member of
 * members[] other than the sender whose watermark in marks is at seq or
 * past it, in the order of members[]. A member without a watermark has
 * read nothing; a watermark of someone who is not a member any more does
 * not count. Returns how many were written. */
size_t message_readers(int64_t seq, const char *sender_id, const char *const *members,
                       size_t member_count, const read_watermark_t *marks, size_t mark_count,
                       size_t *readers);

#endif
