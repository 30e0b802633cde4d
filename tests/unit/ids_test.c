/* Ids and the derived id of a direct conversation (common/include/chat/ids.h). */
#include <criterion/criterion.h>

#include "chat/ids.h"

#define ALICE "65f1a0c2e4b0a1b2c3d4e5f6"
#define BOB "65f1a0c2e4b0a1b2c3d4e5f7"

Test(ids, accepts_only_24_lowercase_hex) {
  cr_assert(chat_is_id(ALICE));
  cr_assert_not(chat_is_id(""));
  cr_assert_not(chat_is_id("65f1a0c2e4b0a1b2c3d4e5f"));   /* 23 */
  cr_assert_not(chat_is_id("65f1a0c2e4b0a1b2c3d4e5f6a")); /* 25 */
  cr_assert_not(chat_is_id("65F1A0C2E4B0A1B2C3D4E5F6"));  /* upper case */
  cr_assert_not(chat_is_id("65f1a0c2e4b0a1b2c3d4e5g6"));
  cr_assert_not(chat_is_id("{\"$gt\":\"\"}"));
}

Test(ids, direct_id_is_the_same_in_either_order) {
  char ab[CHAT_ID_SIZE], ba[CHAT_ID_SIZE];
  cr_assert(chat_direct_conversation_id(ALICE, BOB, ab));
  cr_assert(chat_direct_conversation_id(BOB, ALICE, ba));
  cr_assert_str_eq(ab, ba);
  cr_assert(chat_is_id(ab));
  /* sha256("direct:" ALICE ":" BOB), first 12 bytes; computed with Python's hashlib. */
  cr_assert_str_eq(ab, "17f4b1aefcf23f0b3e94fe31");
}

Test(ids, direct_id_differs_per_pair) {
  char ab[CHAT_ID_SIZE], ac[CHAT_ID_SIZE];
  cr_assert(chat_direct_conversation_id(ALICE, BOB, ab));
  cr_assert(chat_direct_conversation_id(ALICE, "65f1a0c2e4b0a1b2c3d4e5f8", ac));
  cr_assert_str_neq(ab, ac);
}

Test(ids, direct_id_refuses_self_and_bad_ids) {
  char out[CHAT_ID_SIZE];
  cr_assert_not(chat_direct_conversation_id(ALICE, ALICE, out));
  cr_assert_not(chat_direct_conversation_id(ALICE, "bob", out));
  cr_assert_not(chat_direct_conversation_id("", BOB, out));
}
