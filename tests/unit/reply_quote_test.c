/* A reply's quote of its original (chat/reply_quote.h): the excerpt is
 * bounded and never cuts a UTF-8 character; a deleted original has none;
 * the stored form reads back as written; the JSON is the contract's. */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/reply_quote.h"

#define ORIGINAL "fedcba9876543210fedcba98"
#define ALICE "aaaaaaaaaaaaaaaaaaaaaaaa"

Test(reply_quote, short_text_is_kept_whole) {
  cr_assert_eq(chat_reply_excerpt_len("hello", 5, 120), 5);
  cr_assert_eq(chat_reply_excerpt_len("", 0, 120), 0);
}

Test(reply_quote, long_ascii_is_cut_at_the_limit) {
  char text[300];
  memset(text, 'x', sizeof text);
  cr_assert_eq(chat_reply_excerpt_len(text, sizeof text, 120), 120);
}

Test(reply_quote, a_character_across_the_limit_is_left_out_whole) {
  /* 119 ASCII bytes then "é" (C3 A9): the limit of 120 falls inside it. */
  char text[130];
  memset(text, 'a', 119);
  memcpy(text + 119, "\xc3\xa9zz", 4);
  cr_assert_eq(chat_reply_excerpt_len(text, 123, 120), 119);
  /* A four-byte character (U+1F600) starting at 118: cut before it. */
  memcpy(text + 118, "\xf0\x9f\x98\x80", 4);
  cr_assert_eq(chat_reply_excerpt_len(text, 122, 120), 118);
  /* One that ends exactly at the limit is kept. */
  memset(text, 'a', 116);
  memcpy(text + 116, "\xf0\x9f\x98\x80" "b", 5);
  cr_assert_eq(chat_reply_excerpt_len(text, 121, 120), 120);
}

Test(reply_quote, take_bounds_the_excerpt_and_says_truncated) {
  char text[200];
  memset(text, 'q', sizeof text);
  chat_reply_quote_t quote;
  chat_reply_quote_take(&quote, ORIGINAL, ALICE, "alice", text, sizeof text, false);
  cr_assert_eq(strlen(quote.excerpt), CHAT_REPLY_EXCERPT_MAX);
  cr_assert(quote.truncated);
  cr_assert_not(quote.deleted);
  chat_reply_quote_take(&quote, ORIGINAL, ALICE, "alice", "short", 5, false);
  cr_assert_str_eq(quote.excerpt, "short");
  cr_assert_not(quote.truncated);
}

Test(reply_quote, a_deleted_original_is_quoted_without_its_text) {
  chat_reply_quote_t quote;
  chat_reply_quote_take(&quote, ORIGINAL, ALICE, NULL, "secret words", 12, true);
  cr_assert(quote.deleted);
  cr_assert_str_eq(quote.excerpt, "");
  bson_string_t *out = bson_string_new(NULL);
  chat_reply_quote_json(out, &quote);
  cr_assert_str_eq(out->str, "{\"messageId\":\"" ORIGINAL "\",\"senderId\":\"" ALICE
                             "\",\"senderUsername\":null,\"excerpt\":null,\"truncated\":false,"
                             "\"deleted\":true}");
  bson_string_free(out, true);
}

Test(reply_quote, the_stored_form_reads_back_and_renders_as_the_contract_says) {
  chat_reply_quote_t quote, back;
  chat_reply_quote_take(&quote, ORIGINAL, ALICE, "alice", "say \"hi\"", 8, false);
  bson_t doc = BSON_INITIALIZER;
  chat_reply_quote_append(&doc, "replyTo", &quote);
  cr_assert(chat_reply_quote_read(&doc, "replyTo", &back));
  cr_assert_eq(memcmp(&quote, &back, sizeof quote), 0);
  bson_string_t *out = bson_string_new(NULL);
  chat_reply_quote_json(out, &back);
  cr_assert_str_eq(out->str, "{\"messageId\":\"" ORIGINAL "\",\"senderId\":\"" ALICE
                             "\",\"senderUsername\":\"alice\",\"excerpt\":\"say \\\"hi\\\"\","
                             "\"truncated\":false,\"deleted\":false}");
  bson_string_free(out, true);
  bson_destroy(&doc);
}

Test(reply_quote, a_message_without_a_quote_or_with_a_broken_one_has_none) {
  chat_reply_quote_t quote;
  bson_t *none = BCON_NEW("content", BCON_UTF8("x"));
  cr_assert_not(chat_reply_quote_read(none, "replyTo", &quote));
  bson_t *broken = BCON_NEW("replyTo", "{", "messageId", BCON_UTF8("nope"), "}");
  cr_assert_not(chat_reply_quote_read(broken, "replyTo", &quote));
  bson_destroy(broken);
  bson_destroy(none);
}
