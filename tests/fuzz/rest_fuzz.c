/* libFuzzer target for what the gateway does with a REST request before
 * Kafka or MongoDB: the input is "path?query" up to the first newline and
 * the body after it. The path is matched against route patterns, the
 * query read for the arguments the routes read, and the body parsed as
 * the routes parse it. Checked besides crashes, leaks and undefined
 * behaviour: a decoded value always fits its buffer, a matched route's
 * parameters are non-empty segments of the path, and every value found
 * survives being escaped again (copy_query in server.c) and read back.
 * The input, as it is and after "GET " (its path then a request target,
 * its body header lines), is also a request head for the head guard
 * (http_head_guard.h), which must pass a whole head of at most
 * HTTP_HEAD_MAX bytes ending in an empty line, never ask for more past
 * HTTP_HEAD_MAX, give a prefix either no verdict or the whole's, and
 * answer every refusal with a body of the length it announces. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "http_head_guard.h"
#include "http_query.h"
#include "rest_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/api/users",
    "/api/users/:id/presence",
    "/api/chat/conversations/:id/messages",
    "/api/chat/conversations/:id",
    "/api/chat/conversations/:id/members/:userId",
    "/api/chat/messages/:id",
};

static const char *const names[] = {"q", "page", "limit", "before", "after", "otherUserId", ""};

static void route(const char *path) {
  rest_params_t params;
  for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
    if (!rest_path_match(patterns[i], path, &params))
      continue;
    for (size_t p = 0; p < REST_PARAMS_MAX && params.values[p][0]; p++) {
      size_t len = strnlen(params.values[p], REST_PARAM_MAX);
      if (len >= REST_PARAM_MAX || !strstr(path, params.values[p]) ||
          memchr(params.values[p], '/', len))
        abort(); /* a parameter is one whole segment of the path */
    }
  }
}

static void query(const char *text) {
  char out[201];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    memset(out, 'x', sizeof out);
    chat_query_result_t found = chat_query_get(text, names[i], out, sizeof out);
    if (strnlen(out, sizeof out) == sizeof out)
      abort(); /* never unterminated */
    if (found != CHAT_QUERY_FOUND) {
      if (out[0])
        abort(); /* "" unless found */
      continue;
    }
    /* What copy_query writes for this argument reads back the same. */
    bson_string_t *again = bson_string_new(NULL);
    chat_query_append_encoded(again, names[i], strlen(names[i]));
    bson_string_append_c(again, '=');
    chat_query_append_encoded(again, out, strlen(out));
    char back[sizeof out];
    if (chat_query_get(again->str, names[i], back, sizeof back) != CHAT_QUERY_FOUND ||
        strcmp(back, out) != 0)
      abort();
    bson_string_free(again, true);
  }
  char tiny[1];
  (void)chat_query_get(text, "q", tiny, sizeof tiny);
}

static void head_check(const uint8_t *bytes, size_t size) {
  size_t len = 0;
  http_head_verdict_t verdict = http_head_check(bytes, size, &len);
  switch (verdict) {
  case HTTP_HEAD_PASS:
    if (len == 0 || len > size || len > HTTP_HEAD_MAX || bytes[len - 1] != '\n' ||
        !(bytes[len - 2] == '\n' || (bytes[len - 2] == '\r' && bytes[len - 3] == '\n')))
      abort(); /* a whole head, ending in its empty line */
    break;
  case HTTP_HEAD_NEED_MORE:
    if (size >= HTTP_HEAD_MAX)
      abort();
    break;
  case HTTP_HEAD_TIMED_OUT:
    abort(); /* never a verdict of the check */
  default: {
    bson_string_t *answer = bson_string_new(NULL);
    http_head_answer(answer, verdict);
    const char *length = strstr(answer->str, "\r\ncontent-length: ");
    const char *body = strstr(answer->str, "\r\n\r\n");
    if (!length || !body || strtoul(length + 18, NULL, 10) != strlen(body + 4))
      abort();
    bson_string_free(answer, true);
  }
  }
  /* Fewer bytes: no verdict yet, or the same. */
  for (size_t n = size / 2; n < size; n += (size - n + 1) / 2) {
    size_t prefix_len = 0;
    http_head_verdict_t prefix = http_head_check(bytes, n, &prefix_len);
    if (prefix != HTTP_HEAD_NEED_MORE &&
        (prefix != verdict || (verdict == HTTP_HEAD_PASS && prefix_len != len)))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  head_check(data, size);
  uint8_t *request = malloc(size + 4);
  if (!request)
    return 0;
  memcpy(request, "GET ", 4);
  memcpy(request + 4, data, size);
  head_check(request, size + 4);
  free(request);

  const uint8_t *newline = memchr(data, '\n', size);
  size_t head_len = newline ? (size_t)(newline - data) : size;
  char *head = malloc(head_len + 1);
  if (!head)
    return 0;
  memcpy(head, data, head_len);
  head[head_len] = '\0';
  char *question = strchr(head, '?');
  if (question)
    *question = '\0';
  route(head);
  query(question ? question + 1 : "");
  free(head);
  if (newline) {
    bson_t body;
    const char *text = (const char *)newline + 1;
    size_t len = size - head_len - 1;
    char errbuf[128];
    if (chat_json_parse(text, len, 64 * 1024, &body, errbuf, sizeof errbuf) == CHAT_OK)
      bson_destroy(&body);
  }
  return 0;
}
