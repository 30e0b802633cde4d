/* The rules of read receipts, as pure functions: the receipts service
 * applies them to marks (services/receipts/handle_read.c), the gateway to
 * the isRead of messages in history. A member's read state is a
 * watermark per conversation: the highest seq read, never a
 * document per message per reader. */
#ifndef CHAT_READ_RULES_H
#define CHAT_READ_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/err.h"

typedef enum receipt_verdict {
  RECEIPT_OK,
  RECEIPT_NOT_FOUND,   /* no such message */
  RECEIPT_DELETED,     /* the message was deleted */
  RECEIPT_OWN_MESSAGE, /* the reader sent it */
  RECEIPT_NOT_MEMBER,  /* the reader is not a member of its conversation */
} receipt_verdict_t;

/* Whether reader may mark a message read. sender may be NULL when the
 * message was not found. */
receipt_verdict_t receipts_check_mark(bool found, bool deleted, const char *sender,
                                      const char *reader, bool reader_is_member);

/* The revert's reason for clients, and its machine code. */
const char *receipts_reason(receipt_verdict_t verdict);
chat_err_t receipts_code(receipt_verdict_t verdict);

/* A watermark only moves forward: marks that come late, twice, or from
 * two devices at once leave it at the highest seq any of them read. */
bool receipts_watermark_moves(int64_t current_seq, int64_t marked_seq);

/* Whether the message of seq, sent by sender, reads as read for viewer:
 * someone else's message when the viewer's own watermark has passed it;
 * the viewer's own message when every other member's has (others_min_seq,
 * 0 when some member has read nothing). */
bool receipts_is_read(int64_t seq, bool sent_by_viewer, int64_t viewer_seq, int64_t others_min_seq);

#endif
