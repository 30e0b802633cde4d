/* The query decoder of every route: separators are found while still
 * encoded, then names and values are percent-decoded ('+' as a space). */
#include <criterion/criterion.h>
#include <string.h>

#include "http_query.h"

static chat_query_result_t get(const char *query, const char *name, char *out, size_t len) {
  return chat_query_get(query, name, out, len);
}

Test(http_query, encoded_separators_stay_in_the_value) {
  char out[64];
  cr_assert_eq(get("q=Tom%20%26%20Jerry&page=2", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "Tom & Jerry");
  cr_assert_eq(get("q=a%3Db%3dc", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "a=b=c");
  cr_assert_eq(get("q=a=b", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "a=b", "only the first literal '=' separates");
  cr_assert_eq(get("page=2", "page", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "2");
}

Test(http_query, plus_is_a_space_and_an_encoded_plus_is_a_plus) {
  char out[64];
  cr_assert_eq(get("q=Tom+%26+Jerry", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "Tom & Jerry");
  cr_assert_eq(get("q=1%2B1", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "1+1");
}

Test(http_query, names_are_decoded_and_matched_whole) {
  char out[64];
  cr_assert_eq(get("other%55serId=x", "otherUserId", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "x");
  cr_assert_eq(get("xq=1&q=2", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "2");
  cr_assert_eq(get("q%3D1=2", "q", out, sizeof out), CHAT_QUERY_ABSENT,
               "an encoded '=' belongs to the name");
  cr_assert_eq(get("q=1&q=2", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "1", "the first of repeated names");
}

Test(http_query, absent_empty_and_bare) {
  char out[8] = "junk";
  cr_assert_eq(get("", "q", out, sizeof out), CHAT_QUERY_ABSENT);
  cr_assert_str_eq(out, "");
  cr_assert_eq(get(NULL, "q", out, sizeof out), CHAT_QUERY_ABSENT);
  cr_assert_eq(get("&&a=1&", "q", out, sizeof out), CHAT_QUERY_ABSENT);
  cr_assert_eq(get("q=", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "");
  cr_assert_eq(get("a=1&q", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "");
}

Test(http_query, too_long) {
  char out[4];
  cr_assert_eq(get("q=abc", "q", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert_str_eq(out, "abc");
  cr_assert_eq(get("q=abcd", "q", out, sizeof out), CHAT_QUERY_TOO_LONG);
  cr_assert_str_eq(out, "");
  cr_assert_eq(get("q=%41%42%43", "q", out, sizeof out), CHAT_QUERY_FOUND,
               "the decoded length counts");
  cr_assert_str_eq(out, "ABC");
}

Test(http_query, malformed_escapes) {
  char out[16];
  const char *bad[] = {"q=%", "q=%4", "q=%zz", "q=a%g1", "q=100%", "q=%00", "q=a%2", "q=%%41"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(get(bad[i], "q", out, sizeof out), CHAT_QUERY_MALFORMED, "%s", bad[i]);
    cr_assert_str_eq(out, "");
  }
  cr_assert_eq(get("q=%4&page=2", "page", out, sizeof out), CHAT_QUERY_FOUND,
               "a bad argument does not spoil the others");
  cr_assert_eq(get("q=abcdefgh%zz", "q", out, 4), CHAT_QUERY_MALFORMED,
               "malformed wins over too long");
}

Test(http_query, encoding_round_trips_every_byte) {
  char text[255];
  for (int i = 0; i < 255; i++)
    text[i] = (char)(i + 1);
  bson_string_t *query = bson_string_new("a=1&");
  chat_query_append_encoded(query, "n&=+ %", 6);
  bson_string_append_c(query, '=');
  chat_query_append_encoded(query, text, sizeof text);
  cr_assert_null(strchr(query->str + 4, '&'), "no separator leaks into the encoding");
  char out[256];
  cr_assert_eq(get(query->str, "n&=+ %", out, sizeof out), CHAT_QUERY_FOUND);
  cr_assert(memcmp(out, text, sizeof text) == 0 && out[255] == '\0');
  bson_string_free(query, true);
}
