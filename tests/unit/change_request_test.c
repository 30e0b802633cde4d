/* The checks of an edit's text and a reaction's emoji as the gateway reads
 * them, and the commands it makes of them
 * (services/gateway/change_request.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "change_request.h"
#include "chat/ids.h"

#define MESSAGE "65f1a1aae4b0a1b2c3d4e701"
#define ALICE "65f1a0c2e4b0a1b2c3d4e5f6"

Test(change_request, content_as_for_a_send) {
  chat_err_t err;
  cr_assert_null(change_request_check_content("hi", 2, true, 10, &err));
  cr_assert_eq(err, CHAT_OK);
  cr_assert_not_null(change_request_check_content(NULL, 0, false, 10, &err));
  cr_assert_eq(err, CHAT_ERR_INVALID);
  cr_assert_not_null(change_request_check_content(NULL, 0, true, 10, &err)); /* not a string */
  cr_assert_eq(err, CHAT_ERR_INVALID);
  cr_assert_str_eq(change_request_check_content("", 0, true, 10, &err), "content must not be empty");
  cr_assert_null(change_request_check_content("0123456789", 10, true, 10, &err));
  cr_assert_not_null(change_request_check_content("0123456789!", 11, true, 10, &err));
  cr_assert_eq(err, CHAT_ERR_TOO_LARGE);
  cr_assert_not_null(change_request_check_content("a\0b", 3, true, 10, &err));
  cr_assert_eq(err, CHAT_ERR_INVALID);
}

Test(change_request, one_emoji) {
  chat_err_t err;
  cr_assert_null(change_request_check_emoji("\xF0\x9F\x91\x8D", 4, true, &err));
  cr_assert_eq(err, CHAT_OK);
  cr_assert_not_null(change_request_check_emoji("+1", 2, true, &err));
  cr_assert_eq(err, CHAT_ERR_INVALID);
  cr_assert_str_eq(change_request_check_emoji(NULL, 0, false, &err),
                   "emoji is required and must be a string");
}

Test(change_request, the_string_of_a_payload) {
  bson_t *doc = BCON_NEW("content", BCON_UTF8("new"), "emoji", BCON_INT32(7), "none", BCON_NULL);
  const char *value;
  uint32_t len;
  bool present;
  change_request_string(doc, "content", &value, &len, &present);
  cr_assert(present && value && len == 3);
  change_request_string(doc, "emoji", &value, &len, &present);
  cr_assert(present && !value);
  change_request_string(doc, "none", &value, &len, &present);
  cr_assert(!present && !value);
  change_request_string(doc, "absent", &value, &len, &present);
  cr_assert(!present && !value);
  bson_destroy(doc);
}

Test(change_request, an_edit_carries_a_fresh_edit_id_once) {
  chat_envelope_t first, second;
  cr_assert_eq(change_request_edit_command(MESSAGE, ALICE, "v2", 2, "gateway/gw-a", "gw-a/c1",
                                           NULL, &first),
               CHAT_OK);
  cr_assert_eq(change_request_edit_command(MESSAGE, ALICE, "v2", 2, "gateway/gw-a", NULL,
                                           "65f1a200e4b0a1b2c3d4e801", &second),
               CHAT_OK);
  cr_assert_str_eq(first.type, "message.edit");
  cr_assert_str_eq(chat_envelope_string(&first, "messageId", NULL), MESSAGE);
  cr_assert_str_eq(chat_envelope_string(&first, "userId", NULL), ALICE);
  cr_assert_str_eq(chat_envelope_string(&first, "connectionId", NULL), "gw-a/c1");
  cr_assert_str_eq(chat_envelope_string(&first, "content", NULL), "v2");
  const char *id1 = chat_envelope_string(&first, "editId", NULL);
  const char *id2 = chat_envelope_string(&second, "editId", NULL);
  cr_assert(id1 && id2 && chat_is_id(id1) && chat_is_id(id2));
  cr_assert_str_neq(id1, id2, "two edits, two ids");
  cr_assert_null(chat_envelope_string(&second, "connectionId", NULL));
  cr_assert_str_eq(second.correlation_id, "65f1a200e4b0a1b2c3d4e801");
  chat_envelope_cleanup(&first);
  chat_envelope_cleanup(&second);
}

Test(change_request, reaction_commands) {
  chat_envelope_t add, remove;
  cr_assert_eq(change_request_reaction_command(true, MESSAGE, ALICE, "\xE2\xAD\x90", 3,
                                               "gateway/gw-a", NULL, NULL, &add),
               CHAT_OK);
  cr_assert_eq(change_request_reaction_command(false, MESSAGE, ALICE, "\xE2\xAD\x90", 3,
                                               "gateway/gw-a", NULL, NULL, &remove),
               CHAT_OK);
  cr_assert_str_eq(add.type, "reaction.add");
  cr_assert_str_eq(remove.type, "reaction.remove");
  cr_assert_str_eq(chat_envelope_string(&add, "emoji", NULL), "\xE2\xAD\x90");
  chat_envelope_cleanup(&add);
  chat_envelope_cleanup(&remove);
}
