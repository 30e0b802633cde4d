/* The lastSeqs of a resuming client's CONNECT auth (resume_points_read):
 * what is taken, and every refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "resume_points.h"

#define ONE "0123456789abcdef01234567"
#define TWO "aaaaaaaaaaaaaaaaaaaaaaaa"

static const char *read_json(const char *json, resume_last_seq_t **points, size_t *count) {
  bson_t auth;
  char why[128];
  cr_assert_eq(chat_json_parse(json, strlen(json), 1 << 20, &auth, why, sizeof why), CHAT_OK,
               "%s", why);
  const char *bad = resume_points_read(&auth, points, count);
  bson_destroy(&auth);
  return bad;
}

static void no_resume(const char *json) {
  resume_last_seq_t *points = (void *)1;
  size_t count = 99;
  cr_assert_null(read_json(json, &points, &count), "refused: %s", json);
  cr_assert_null(points, "%s", json);
  cr_assert_eq(count, 0, "%s", json);
}

static void refused(const char *json) {
  resume_last_seq_t *points = (void *)1;
  size_t count = 99;
  const char *bad = read_json(json, &points, &count);
  cr_assert_not_null(bad, "accepted: %s", json);
  cr_assert_str_eq(bad, "lastSeqs must map conversation ids to the last seq seen "
                        "(at most 1000 of them)");
  cr_assert_eq(bad, resume_points_malformed);
  cr_assert_null(points, "%s", json);
  cr_assert_eq(count, 0, "%s", json);
}

/* {"lastSeqs":{"<n entries>"}}, ids made from the index. */
static char *many(size_t n) {
  bson_string_t *json = bson_string_new("{\"lastSeqs\":{");
  for (size_t i = 0; i < n; i++)
    bson_string_append_printf(json, "%s\"%024zx\":%zu", i ? "," : "", i, i);
  bson_string_append(json, "}}");
  return bson_string_free(json, false);
}

Test(resume_points, entries_are_taken_in_order) {
  resume_last_seq_t *points;
  size_t count;
  cr_assert_null(read_json("{\"token\":\"t\",\"lastSeqs\":{\"" ONE "\":17,\"" TWO "\":0}}", &points,
                           &count));
  cr_assert_eq(count, 2);
  cr_assert_str_eq(points[0].conversation_id, ONE);
  cr_assert_eq(points[0].seq, 17);
  cr_assert_str_eq(points[1].conversation_id, TWO);
  cr_assert_eq(points[1].seq, 0);
  free(points);
}

Test(resume_points, a_large_seq_and_a_double_are_numbers) {
  resume_last_seq_t *points;
  size_t count;
  cr_assert_null(read_json("{\"lastSeqs\":{\"" ONE "\":9007199254740993,\"" TWO "\":17.9}}",
                           &points, &count));
  cr_assert_eq(count, 2);
  cr_assert_eq(points[0].seq, 9007199254740993LL);
  cr_assert_eq(points[1].seq, 17, "a double is taken as its integer part");
  free(points);
}

Test(resume_points, none_null_or_empty_is_no_resume) {
  resume_last_seq_t *points = (void *)1;
  size_t count = 99;
  cr_assert_null(resume_points_read(NULL, &points, &count));
  cr_assert_null(points);
  cr_assert_eq(count, 0);
  no_resume("{}");
  no_resume("{\"token\":\"t\"}");
  no_resume("{\"lastSeqs\":null}");
  no_resume("{\"lastSeqs\":{}}");
}

Test(resume_points, lastseqs_must_be_an_object) {
  refused("{\"lastSeqs\":[]}");
  refused("{\"lastSeqs\":[17]}");
  refused("{\"lastSeqs\":\"" ONE "\"}");
  refused("{\"lastSeqs\":17}");
  refused("{\"lastSeqs\":true}");
}

Test(resume_points, keys_must_be_ids) {
  refused("{\"lastSeqs\":{\"\":1}}");
  refused("{\"lastSeqs\":{\"room\":1}}");
  refused("{\"lastSeqs\":{\"0123456789ABCDEF01234567\":1}}");
  refused("{\"lastSeqs\":{\"0123456789abcdef0123456\":1}}");
  refused("{\"lastSeqs\":{\"0123456789abcdef012345678\":1}}");
  refused("{\"lastSeqs\":{\"" ONE "\":1,\"not-an-id\":2}}");
}

Test(resume_points, values_must_be_numbers_not_below_zero) {
  refused("{\"lastSeqs\":{\"" ONE "\":-1}}");
  refused("{\"lastSeqs\":{\"" ONE "\":-9007199254740993}}");
  refused("{\"lastSeqs\":{\"" ONE "\":-1.5}}");
  refused("{\"lastSeqs\":{\"" ONE "\":\"17\"}}");
  refused("{\"lastSeqs\":{\"" ONE "\":null}}");
  refused("{\"lastSeqs\":{\"" ONE "\":true}}");
  refused("{\"lastSeqs\":{\"" ONE "\":{}}}");
  refused("{\"lastSeqs\":{\"" ONE "\":[17]}}");
  refused("{\"lastSeqs\":{\"" TWO "\":3,\"" ONE "\":-1}}");
}

Test(resume_points, at_most_1000_entries) {
  resume_last_seq_t *points;
  size_t count;
  char *json = many(RESUME_POINTS_MAX);
  cr_assert_null(read_json(json, &points, &count));
  cr_assert_eq(count, 1000);
  cr_assert_str_eq(points[999].conversation_id, "0000000000000000000003e7");
  cr_assert_eq(points[999].seq, 999);
  free(points);
  bson_free(json);
  json = many(RESUME_POINTS_MAX + 1);
  refused(json);
  bson_free(json);
}
