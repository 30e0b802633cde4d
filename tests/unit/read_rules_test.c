/* The rules of read receipts (common/include/chat/read_rules.h). */
#include <criterion/criterion.h>

#include "chat/read_rules.h"

#define ME "65f1a0c2e4b0a1b2c3d4e5f7"
#define THEM "65f1a0c2e4b0a1b2c3d4e5f6"

Test(read_rules, every_revert_reason_in_the_order_they_are_checked) {
  cr_assert_eq(receipts_check_mark(true, false, THEM, ME, true), RECEIPT_OK);
  cr_assert_eq(receipts_check_mark(false, false, NULL, ME, false), RECEIPT_NOT_FOUND);
  cr_assert_eq(receipts_check_mark(true, true, THEM, ME, true), RECEIPT_DELETED);
  cr_assert_eq(receipts_check_mark(true, false, THEM, ME, false), RECEIPT_NOT_MEMBER);
  cr_assert_eq(receipts_check_mark(true, false, ME, ME, true), RECEIPT_OWN_MESSAGE);
  /* Nothing more is said of a message in a conversation one is not in. */
  cr_assert_eq(receipts_check_mark(true, true, THEM, ME, false), RECEIPT_NOT_MEMBER);
  cr_assert_eq(receipts_check_mark(true, false, ME, ME, false), RECEIPT_NOT_MEMBER);
}

Test(read_rules, reasons_and_codes) {
  cr_assert_str_eq(receipts_reason(RECEIPT_DELETED), "message was deleted");
  cr_assert_str_eq(receipts_reason(RECEIPT_OWN_MESSAGE), "cannot mark your own message as read");
  cr_assert_eq(receipts_code(RECEIPT_NOT_MEMBER), CHAT_ERR_FORBIDDEN);
  cr_assert_eq(receipts_code(RECEIPT_NOT_FOUND), CHAT_ERR_NOT_FOUND);
  cr_assert_eq(receipts_code(RECEIPT_OK), CHAT_OK);
}

Test(read_rules, the_watermark_never_moves_backwards) {
  cr_assert(receipts_watermark_moves(0, 1));
  cr_assert(receipts_watermark_moves(5, 9));
  cr_assert_not(receipts_watermark_moves(9, 5)); /* a late mark */
  cr_assert_not(receipts_watermark_moves(9, 9)); /* a replay, or the other device */
}

Test(read_rules, is_read_for_the_viewer) {
  /* Someone else's message: read once my watermark passed it. */
  cr_assert(receipts_is_read(3, false, 3, 0));
  cr_assert_not(receipts_is_read(4, false, 3, 10));
  /* My own message: read once every other member's has. */
  cr_assert(receipts_is_read(4, true, 0, 4));
  cr_assert_not(receipts_is_read(5, true, 100, 4));
}
