#include <criterion/criterion.h>
#include <string.h>

#include "chat/json.h"

static char *roundtrip(const char *text) {
  bson_t doc;
  char why[256];
  cr_assert_eq(chat_json_parse(text, strlen(text), 1 << 20, &doc, why, sizeof why), CHAT_OK,
               "%s: %s", text, why);
  bson_string_t *out = bson_string_new(NULL);
  cr_assert_eq(chat_json_append(out, &doc, false), CHAT_OK);
  bson_destroy(&doc);
  return bson_string_free(out, false);
}

Test(json, canonical_output_is_compact_and_ordered) {
  char *out = roundtrip("{ \"b\" : 1, \"a\" : [true, false, null, \"x\"], \"c\": {\"d\": -5} }");
  cr_assert_str_eq(out, "{\"b\":1,\"a\":[true,false,null,\"x\"],\"c\":{\"d\":-5}}");
  bson_free(out);
}

Test(json, canonical_text_roundtrips_byte_for_byte) {
  const char *text = "{\"content\":\"say \\\"hi\\\"\\nbye\\t\\\\ caf\xc3\xa9 \xf0\x9f\x98\x80\","
                     "\"n\":9007199254740993,\"neg\":-2147483649,\"f\":0.5}";
  char *out = roundtrip(text);
  cr_assert_str_eq(out, text);
  bson_free(out);
}

Test(json, control_characters_are_escaped) {
  char *out = roundtrip("{\"s\":\"\\u0001\\b\\f\\r\"}");
  cr_assert_str_eq(out, "{\"s\":\"\\u0001\\b\\f\\r\"}");
  bson_free(out);
}

Test(json, unicode_escapes_are_written_raw) {
  char *out = roundtrip("{\"s\":\"\\u00e9\"}");
  cr_assert_str_eq(out, "{\"s\":\"\xc3\xa9\"}");
  bson_free(out);
}

Test(json, rejects_non_objects_and_garbage) {
  const char *bad[] = {"",           "   ",       "[1,2]",      "\"x\"", "42",
                       "{",          "{\"a\":}",  "{\"a\":1,}", "nul",   "{\"a\":1} {\"b\":2}",
                       "{\"a\":1}x", "{\"a\":1}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bson_t doc;
    char why[256];
    cr_assert_eq(chat_json_parse(bad[i], strlen(bad[i]), 1024, &doc, why, sizeof why),
                 CHAT_ERR_JSON, "accepted '%s'", bad[i]);
    cr_assert_neq(why[0], '\0', "no message for '%s'", bad[i]);
  }
}

Test(json, rejects_extended_json) {
  const char *text = "{\"id\":{\"$oid\":\"507f1f77bcf86cd799439011\"}}";
  bson_t doc;
  char why[256];
  cr_assert_eq(chat_json_parse(text, strlen(text), 1024, &doc, why, sizeof why), CHAT_ERR_JSON);
  cr_assert(strstr(why, "extended JSON") != NULL, "%s", why);
}

Test(json, enforces_the_size_limit) {
  const char *text = "{\"a\":\"0123456789\"}";
  bson_t doc;
  char why[256];
  cr_assert_eq(chat_json_parse(text, strlen(text), 10, &doc, why, sizeof why), CHAT_ERR_TOO_LARGE);
  cr_assert(strstr(why, "limit of 10") != NULL, "%s", why);
}

Test(json, escape_into_never_splits_a_character) {
  char buf[6];
  /* "ab" + U+00E9 (2 bytes) + "c": 5 bytes do not fit with the NUL in 6? they do */
  size_t n = chat_json_escape_into(buf, sizeof buf,
                                   "ab\xc3\xa9"
                                   "c",
                                   5);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(buf, "ab\xc3\xa9"
                        "c");
  /* With 4 bytes of room the 2-byte character would be cut: it is left out. */
  char small[4];
  n = chat_json_escape_into(small, sizeof small, "ab\xc3\xa9", 4);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(small, "ab");
  /* An escape is never cut either. */
  n = chat_json_escape_into(small, sizeof small, "a\"", 2);
  cr_assert_str_eq(small, "a\\\"");
  n = chat_json_escape_into(small, sizeof small, "ab\"", 3);
  cr_assert_str_eq(small, "ab");
}

Test(json, times_are_iso_8601_utc_with_milliseconds) {
  char text[CHAT_JSON_TIME_SIZE];
  chat_json_format_time(1768991400000, text);
  cr_assert_str_eq(text, "2026-01-21T10:30:00.000Z");
  chat_json_format_time(1768991400007, text);
  cr_assert_str_eq(text, "2026-01-21T10:30:00.007Z");
  chat_json_format_time(0, text);
  cr_assert_str_eq(text, "1970-01-01T00:00:00.000Z");
  chat_json_format_time(-1, text);
  cr_assert_str_eq(text, "1969-12-31T23:59:59.999Z");
}

Test(json, date_times_in_documents_are_written_as_iso_strings) {
  bson_t *doc = BCON_NEW("at", BCON_DATE_TIME(1768991400123));
  bson_string_t *out = bson_string_new(NULL);
  cr_assert_eq(chat_json_append(out, doc, false), CHAT_OK);
  cr_assert_str_eq(out->str, "{\"at\":\"2026-01-21T10:30:00.123Z\"}");
  bson_string_free(out, true);
  bson_destroy(doc);
}

Test(json, times_read_back_and_malformed_ones_are_refused) {
  int64_t ms = 0;
  cr_assert(chat_json_parse_time("2026-01-21T10:30:00.007Z", &ms));
  cr_assert_eq(ms, 1768991400007);
  const char *bad[] = {"", "2026-01-21T10:30:00Z", "2026-13-21T10:30:00.000Z",
                       "2026-01-21 10:30:00.000Z", "2026-01-21T10:30:00.000Zx", "yesterday"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_not(chat_json_parse_time(bad[i], &ms), "%s", bad[i]);
}
