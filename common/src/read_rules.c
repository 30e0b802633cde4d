#include "chat/read_rules.h"

#include <string.h>

receipt_verdict_t receipts_check_mark(bool found, bool deleted, const char *sender,
                                      const char *reader, bool reader_is_member) {
  if (!found)
    return RECEIPT_NOT_FOUND;
  if (!reader_is_member) /* before anything else about a message of others */
    return RECEIPT_NOT_MEMBER;
  if (deleted)
    return RECEIPT_DELETED;
  if (sender && strcmp(sender, reader) == 0)
    return RECEIPT_OWN_MESSAGE;
  return RECEIPT_OK;
}

const char *receipts_reason(receipt_verdict_t verdict) {
  switch (verdict) {
  case RECEIPT_NOT_FOUND:
    return "message not found";
  case RECEIPT_DELETED:
    return "message was deleted";
  case RECEIPT_OWN_MESSAGE:
    return "cannot mark your own message as read";
  case RECEIPT_NOT_MEMBER:
    return "not a member of this conversation";
  case RECEIPT_OK:
    break;
  }
  return "read";
}

chat_err_t receipts_code(receipt_verdict_t verdict) {
  switch (verdict) {
  case RECEIPT_NOT_FOUND:
  case RECEIPT_DELETED:
    return CHAT_ERR_NOT_FOUND;
  case RECEIPT_OWN_MESSAGE:
    return CHAT_ERR_INVALID;
  case RECEIPT_NOT_MEMBER:
    return CHAT_ERR_FORBIDDEN;
  case RECEIPT_OK:
    break;
  }
  return CHAT_OK;
}

bool receipts_watermark_moves(int64_t current_seq, int64_t marked_seq) {
  return marked_seq > current_seq;
}

bool receipts_is_read(int64_t seq, bool sent_by_viewer, int64_t viewer_seq,
                      int64_t others_min_seq) {
  return sent_by_viewer ? seq <= others_min_seq : seq <= viewer_seq;
}
