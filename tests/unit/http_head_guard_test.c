/* The check of a request head before libwebsockets parses it: whole heads
 * pass with their length, and each refusal comes as soon as the line that
 * earns it is whole, and stays the same however much more follows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http_head_guard.h"

static http_head_verdict_t check(const char *head, size_t *head_len) {
  size_t ignored;
  return http_head_check((const uint8_t *)head, strlen(head), head_len ? head_len : &ignored);
}

/* A head of exactly len bytes: the request line, then X-P lines of at
 * most 100 bytes, then the empty line. */
static char *head_of(size_t len, const char *request_line) {
  char *head = malloc(len + 1);
  cr_assert(head);
  size_t used = (size_t)snprintf(head, len + 1, "%s\r\n", request_line);
  for (;;) {
    size_t room = len - used - 2; /* before the empty line */
    if (room == 0)
      break;
    size_t content = room >= 110 ? 100 : room - 2;
    cr_assert(content >= 4);
    memcpy(head + used, "X-P:", 4);
    memset(head + used + 4, 'a', content - 4);
    memcpy(head + used + content, "\r\n", 2);
    used += content + 2;
  }
  memcpy(head + used, "\r\n", 2);
  head[len] = '\0';
  return head;
}

Test(http_head_guard, a_whole_head_passes_with_its_length) {
  size_t len = 0;
  const char *simple = "GET /api/users HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(check(simple, &len), HTTP_HEAD_PASS);
  cr_assert_eq(len, strlen(simple));
  const char *post = "POST /api/auth/login HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  cr_assert_eq(check(post, &len), HTTP_HEAD_PASS);
  cr_assert_eq(len, strlen(post) - 2, "the body is not part of the head");
  const char *bare = "GET / HTTP/1.1\nHost: x\n\n";
  cr_assert_eq(check(bare, &len), HTTP_HEAD_PASS, "bare LFs, as lws takes them");
  cr_assert_eq(len, strlen(bare));
  cr_assert_eq(check("get /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n\r\n", NULL),
               HTTP_HEAD_PASS, "lws takes a method in any case");
  cr_assert_eq(check("GET  /a%2Fb%c3%A9?q=Tom%20%26+Jerry HTTP/1.1\r\nA: \r\n\r\n", NULL),
               HTTP_HEAD_PASS);
}

Test(http_head_guard, a_head_not_whole_needs_more) {
  cr_assert_eq(check("", NULL), HTTP_HEAD_NEED_MORE);
  cr_assert_eq(check("GET /api/us", NULL), HTTP_HEAD_NEED_MORE);
  cr_assert_eq(check("GET /api/users HTTP/1.1\r\nHost: x\r\n", NULL), HTTP_HEAD_NEED_MORE);
  cr_assert_eq(check("GET /api/users HTTP/1.1\r\nHost: x\r\n\r", NULL), HTTP_HEAD_NEED_MORE);
}

Test(http_head_guard, at_most_4096_bytes) {
  char *exact = head_of(HTTP_HEAD_MAX, "GET /api/users HTTP/1.1");
  size_t len = 0;
  cr_assert_eq(check(exact, &len), HTTP_HEAD_PASS);
  cr_assert_eq(len, HTTP_HEAD_MAX);
  free(exact);
  char *over = head_of(HTTP_HEAD_MAX + 1, "GET /api/users HTTP/1.1");
  cr_assert_eq(check(over, NULL), HTTP_HEAD_TOO_LARGE);
  over[HTTP_HEAD_MAX - 1] = '\0';
  cr_assert_eq(check(over, NULL), HTTP_HEAD_NEED_MORE, "4095 bytes of an unfinished head");
  over[HTTP_HEAD_MAX - 1] = 'a';
  over[HTTP_HEAD_MAX] = '\0';
  cr_assert_eq(check(over, NULL), HTTP_HEAD_TOO_LARGE, "4096 bytes and no end: no head can fit");
  free(over);
  /* One long header, no end in sight. */
  char endless[3 * HTTP_HEAD_MAX];
  snprintf(endless, sizeof endless, "GET / HTTP/1.1\r\nCookie: %0*d", 2 * HTTP_HEAD_MAX, 0);
  cr_assert_eq(check(endless, NULL), HTTP_HEAD_TOO_LARGE);
}

Test(http_head_guard, malformed_escapes_in_the_target) {
  const char *bad[] = {"GET /api/users?q=%zz HTTP/1.1\r\n",
                       "GET /api/users?q=%4 HTTP/1.1\r\n",
                       "GET /api/%G1 HTTP/1.1\r\n",
                       "GET /api/users%4\r\n",
                       "GET /api/users?q=%00 HTTP/1.1\r\n",
                       "GET /a% HTTP/1.1\r\n",
                       "GET /a%2 0 HTTP/1.1\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i], NULL), HTTP_HEAD_BAD_ESCAPE, "%s", bad[i]);
  cr_assert_eq(check("GET /a?q=%ff%0B%7e HTTP/1.1\r\n\r\n", NULL), HTTP_HEAD_PASS);
  cr_assert_eq(check("GET /a HTTP/1.1\r\nX: %zz\r\n\r\n", NULL), HTTP_HEAD_PASS,
               "a header value is no target");
}

Test(http_head_guard, request_lines_lws_would_refuse) {
  const char *bad[] = {"FETCH / HTTP/1.1\r\n",
                       "GET\r\n",
                       "\r\n",
                       "GET  \r\n",
                       "GET /a\tb HTTP/1.1\r\n",
                       "GET /a\rb HTTP/1.1\r\n",
                       "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                       "CONNECT x:443 HTTP/1.1\r\n",
                       "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i], NULL), HTTP_HEAD_BAD_REQUEST_LINE, "case %zu", i);
  const char *good[] = {"GET / HTTP/1.1\r\n\r\n",    "POST /x HTTP/1.0\r\n\r\n",
                        "PUT /x HTTP/1.1\r\n\r\n",   "DELETE /x HTTP/1.1\r\n\r\n",
                        "PATCH /x HTTP/1.1\r\n\r\n", "OPTIONS * HTTP/1.1\r\n\r\n",
                        "HEAD /x HTTP/1.1\r\n\r\n",  "GET /\xc3\xa9 HTTP/1.1\r\n\r\n"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    cr_assert_eq(check(good[i], NULL), HTTP_HEAD_PASS, "%s", good[i]);
}

Test(http_head_guard, header_lines_must_be_a_name_and_a_colon) {
  const char *bad[] = {"GET / HTTP/1.1\r\nHost x\r\n",
                       "GET / HTTP/1.1\r\nHost : x\r\n",
                       "GET / HTTP/1.1\r\n: x\r\n",
                       "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n",
                       "GET / HTTP/1.1\r\nA: 1\r\n\tfolded\r\n",
                       "GET / HTTP/1.1\r\nGET /again HTTP/1.1\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(check(bad[i], NULL), HTTP_HEAD_BAD_HEADER_LINE, "case %zu", i);
  cr_assert_eq(check("GET / HTTP/1.1\r\nX-A_b.c~1!: v a l\r\nE:\r\n\r\n", NULL), HTTP_HEAD_PASS);
}

Test(http_head_guard, at_most_80_header_lines_and_query_arguments) {
  char head[HTTP_HEAD_MAX];
  size_t used = (size_t)snprintf(head, sizeof head, "GET /a?x=1&y=2;z HTTP/1.1\r\n");
  for (int i = 0; i < HTTP_HEAD_FIELDS_MAX - 3; i++)
    used += (size_t)snprintf(head + used, sizeof head - used, "A:\r\n");
  snprintf(head + used, sizeof head - used, "\r\n");
  cr_assert_eq(check(head, NULL), HTTP_HEAD_PASS, "3 arguments and 77 lines");
  snprintf(head + used, sizeof head - used, "A:\r\n");
  cr_assert_eq(check(head, NULL), HTTP_HEAD_TOO_MANY_FIELDS, "one line more");
  /* Arguments alone, refused with the request line. */
  used = (size_t)snprintf(head, sizeof head, "GET /a?");
  for (int i = 0; i < HTTP_HEAD_FIELDS_MAX; i++)
    used += (size_t)snprintf(head + used, sizeof head - used, "a&");
  snprintf(head + used, sizeof head - used, " HTTP/1.1\r\n");
  cr_assert_eq(check(head, NULL), HTTP_HEAD_TOO_MANY_FIELDS);
  cr_assert_eq(check("GET /a?b%26c%3Bd HTTP/1.1\r\n\r\n", NULL), HTTP_HEAD_PASS,
               "escaped separators are no arguments");
}

/* Every prefix of a head gets NEED_MORE or the verdict of the whole. */
static void assert_prefixes_agree(const char *head) {
  size_t whole_len = 0, len = 0;
  http_head_verdict_t whole = check(head, &whole_len);
  for (size_t n = 0; n <= strlen(head); n++) {
    http_head_verdict_t verdict = http_head_check((const uint8_t *)head, n, &len);
    if (verdict == HTTP_HEAD_NEED_MORE)
      continue;
    cr_assert_eq(verdict, whole, "%zu bytes of %s", n, head);
    if (verdict == HTTP_HEAD_PASS)
      cr_assert_eq(len, whole_len);
  }
}

Test(http_head_guard, a_verdict_never_changes_with_more_bytes) {
  assert_prefixes_agree("GET /api/users HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  assert_prefixes_agree("GET /api/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_prefixes_agree("GET /a HTTP/1.1\r\nHost x\r\n\r\n");
  char *big = head_of(HTTP_HEAD_MAX + 200, "GET /b HTTP/1.1");
  assert_prefixes_agree(big);
  free(big);
}

Test(http_head_guard, the_answers_say_why_in_the_rest_envelope) {
  const struct {
    http_head_verdict_t verdict;
    const char *status_line, *body;
  } cases[] = {
      {HTTP_HEAD_TOO_LARGE, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
       "{\"success\":false,\"error\":{\"code\":\"TOO_LARGE\",\"message\":\"request headers too "
       "large: at most 4096 bytes\"}}"},
      {HTTP_HEAD_TOO_MANY_FIELDS, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
       "{\"success\":false,\"error\":{\"code\":\"TOO_LARGE\",\"message\":\"too many header lines "
       "and query arguments: at most 80 in all\"}}"},
      {HTTP_HEAD_BAD_ESCAPE, "HTTP/1.1 400 Bad Request\r\n",
       "{\"success\":false,\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"malformed "
       "percent escape in the request target: '%' must be followed by two hex digits (and not "
       "%00)\"}}"},
      {HTTP_HEAD_TIMED_OUT, "HTTP/1.1 408 Request Timeout\r\n",
       "{\"success\":false,\"error\":{\"code\":\"TIMEOUT\",\"message\":\"request head not "
       "complete within 10 s\"}}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bson_string_t *out = bson_string_new(NULL);
    http_head_answer(out, cases[i].verdict);
    cr_assert(strncmp(out->str, cases[i].status_line, strlen(cases[i].status_line)) == 0, "%s",
              out->str);
    char length[64];
    snprintf(length, sizeof length, "\r\ncontent-length: %zu\r\n", strlen(cases[i].body));
    cr_assert(strstr(out->str, length), "%s", out->str);
    cr_assert(strstr(out->str, "\r\ncontent-type: application/json\r\n"), "%s", out->str);
    cr_assert(strstr(out->str, "\r\nconnection: close\r\n"), "%s", out->str);
    const char *body = strstr(out->str, "\r\n\r\n");
    cr_assert(body);
    cr_assert_str_eq(body + 4, cases[i].body);
    bson_string_free(out, true);
  }
  cr_assert_eq(http_head_status(HTTP_HEAD_BAD_HEADER_LINE), 400);
  cr_assert_eq(http_head_status(HTTP_HEAD_BAD_REQUEST_LINE), 400);
  cr_assert_eq(http_head_status(HTTP_HEAD_PASS), 0);
  cr_assert_eq(http_head_status(HTTP_HEAD_NEED_MORE), 0);
}
