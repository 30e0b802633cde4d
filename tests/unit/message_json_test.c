/* The two wire shapes of a message (chat/message_json.h), byte for byte:
 * new_message and the REST message, with the UserRef inside it. */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/message_json.h"

#define ALICE "aaaaaaaaaaaaaaaaaaaaaaaa"
#define BOB "bbbbbbbbbbbbbbbbbbbbbbbb"
#define CONVERSATION "0123456789abcdef01234567"
#define MESSAGE "fedcba9876543210fedcba98"
#define AT 1769000000123LL /* 2026-01-21T12:53:20.123Z */

static const chat_message_view_t a_direct_message = {
    .id = MESSAGE,
    .sender_id = ALICE,
    .receiver_id = BOB,
    .conversation_id = CONVERSATION,
    .content = "hi \"bob\"\n",
    .content_len = 9,
    .attachment_url = "https://example.invalid/a.png",
    .created_at_ms = AT,
    .sender_username = "alice",
    .seq = 7,
};

static void written_as(const chat_rest_message_view_t *view, const char *expected) {
  bson_string_t *out = bson_string_new(NULL);
  chat_rest_message_json(out, view);
  cr_assert_str_eq(out->str, expected);
  bson_string_free(out, true);
}

Test(message_json, new_message) {
  bson_string_t *out = bson_string_new(NULL);
  chat_new_message_json(out, &a_direct_message);
  cr_assert_str_eq(out->str,
                   "{\"id\":\"" MESSAGE "\",\"senderId\":\"" ALICE "\",\"receiverId\":\"" BOB
                   "\",\"conversationId\":\"" CONVERSATION "\",\"content\":\"hi \\\"bob\\\"\\n\","
                   "\"attachmentUrl\":\"https://example.invalid/a.png\",\"isRead\":false,"
                   "\"createdAt\":\"2026-01-21T12:53:20.123Z\",\"sender\":{\"id\":\"" ALICE
                   "\",\"username\":\"alice\"},\"seq\":7}");
  bson_string_free(out, true);
}

Test(message_json, rest_message_of_a_send) {
  const chat_rest_message_view_t view = {
      .message = a_direct_message,
      .sender = {ALICE, "alice", -1},
      .receiver = {BOB, "bob", -1},
      .client_msg_id = "c-1",
  };
  written_as(&view, "{\"id\":\"" MESSAGE "\",\"sender_id\":\"" ALICE "\",\"receiver_id\":\"" BOB
                    "\",\"conversation_id\":\"" CONVERSATION "\",\"content\":\"hi \\\"bob\\\"\\n\","
                    "\"attachment_url\":\"https://example.invalid/a.png\",\"is_read\":false,"
                    "\"read_at\":null,\"createdAt\":\"2026-01-21T12:53:20.123Z\","
                    "\"sender\":{\"id\":\"" ALICE "\",\"username\":\"alice\"},"
                    "\"receiver\":{\"id\":\"" BOB "\",\"username\":\"bob\"},\"seq\":7,"
                    "\"clientMsgId\":\"c-1\"}");
}

Test(message_json, rest_message_of_a_page_read_with_presence) {
  const chat_rest_message_view_t view = {
      .message = a_direct_message,
      .is_read = true,
      .read_at_ms = AT + 1000,
      .sender = {ALICE, "alice", 1},
      .receiver = {BOB, NULL, 0},
  };
  written_as(&view, "{\"id\":\"" MESSAGE "\",\"sender_id\":\"" ALICE "\",\"receiver_id\":\"" BOB
                    "\",\"conversation_id\":\"" CONVERSATION "\",\"content\":\"hi \\\"bob\\\"\\n\","
                    "\"attachment_url\":\"https://example.invalid/a.png\",\"is_read\":true,"
                    "\"read_at\":\"2026-01-21T12:53:21.123Z\",\"createdAt\":"
                    "\"2026-01-21T12:53:20.123Z\",\"sender\":{\"id\":\"" ALICE
                    "\",\"username\":\"alice\",\"isOnline\":true},\"receiver\":{\"id\":\"" BOB
                    "\",\"username\":null,\"isOnline\":false},\"seq\":7}");
}

Test(message_json, rest_message_in_a_group) {
  chat_rest_message_view_t view = {
      .message = a_direct_message,
      .sender = {ALICE, NULL, -1},
      .receiver = {NULL, NULL, -1},
  };
  view.message.receiver_id = NULL;
  view.message.attachment_url = NULL;
  view.message.content = "a\0b";
  view.message.content_len = 3;
  view.message.seq = 9007199254740993LL;
  written_as(&view, "{\"id\":\"" MESSAGE "\",\"sender_id\":\"" ALICE "\",\"receiver_id\":null,"
                    "\"conversation_id\":\"" CONVERSATION "\",\"content\":\"a\\u0000b\","
                    "\"attachment_url\":null,\"is_read\":false,\"read_at\":null,"
                    "\"createdAt\":\"2026-01-21T12:53:20.123Z\",\"sender\":{\"id\":\"" ALICE
                    "\",\"username\":null},\"receiver\":null,\"seq\":9007199254740993}");
}

Test(message_json, rest_message_edited_with_reactions) {
  bson_t reactions = BSON_INITIALIZER, entry;
  BSON_APPEND_DOCUMENT_BEGIN(&reactions, "0", &entry);
  BSON_APPEND_UTF8(&entry, "emoji", "\xF0\x9F\x91\x8D");
  BSON_APPEND_UTF8(&entry, "userId", BOB);
  BSON_APPEND_DATE_TIME(&entry, "at", AT);
  bson_append_document_end(&reactions, &entry);
  chat_rest_message_view_t view = {
      .message = a_direct_message,
      .sender = {ALICE, NULL, -1},
      .receiver = {NULL, NULL, -1},
      .with_changes = true,
      .edited_at_ms = AT + 1000,
      .reactions = &reactions,
      .viewer_id = BOB,
  };
  view.message.receiver_id = NULL;
  view.message.attachment_url = NULL;
  written_as(&view, "{\"id\":\"" MESSAGE "\",\"sender_id\":\"" ALICE "\",\"receiver_id\":null,"
                    "\"conversation_id\":\"" CONVERSATION "\",\"content\":\"hi \\\"bob\\\"\\n\","
                    "\"attachment_url\":null,\"is_read\":false,\"read_at\":null,"
                    "\"createdAt\":\"2026-01-21T12:53:20.123Z\",\"sender\":{\"id\":\"" ALICE
                    "\",\"username\":null},\"receiver\":null,\"seq\":7,"
                    "\"editedAt\":\"2026-01-21T12:53:21.123Z\",\"reactions\":[{\"emoji\":"
                    "\"\xF0\x9F\x91\x8D\",\"count\":1,\"reacted\":true}]}");
  view.reactions = NULL;
  view.edited_at_ms = 0;
  written_as(&view, "{\"id\":\"" MESSAGE "\",\"sender_id\":\"" ALICE "\",\"receiver_id\":null,"
                    "\"conversation_id\":\"" CONVERSATION "\",\"content\":\"hi \\\"bob\\\"\\n\","
                    "\"attachment_url\":null,\"is_read\":false,\"read_at\":null,"
                    "\"createdAt\":\"2026-01-21T12:53:20.123Z\",\"sender\":{\"id\":\"" ALICE
                    "\",\"username\":null},\"receiver\":null,\"seq\":7,"
                    "\"editedAt\":null,\"reactions\":[]}");
  bson_destroy(&reactions);
}

Test(message_json, user_ref) {
  bson_string_t *out = bson_string_new(NULL);
  const chat_user_ref_t nobody = {NULL, "ignored", 1}, bob = {BOB, "b\"o", -1};
  chat_user_ref_json(out, &nobody);
  bson_string_append_c(out, ',');
  chat_user_ref_json(out, &bob);
  cr_assert_str_eq(out->str, "null,{\"id\":\"" BOB "\",\"username\":\"b\\\"o\"}");
  bson_string_free(out, true);
}
