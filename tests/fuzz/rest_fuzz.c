/* libFuzzer target for what the gateway does with a REST request before
 * Kafka or MongoDB: the input is "path?query" up to the first newline and
 * the body after it. The path is matched against route patterns, the
 * query read for the arguments the routes read, and the body parsed as
 * the routes parse it. Checked besides crashes, leaks and undefined
 * behaviour: a decoded value always fits its buffer, a matched route's
 * parameters are non-empty segments of the path, and every value found
 * survives being escaped again (copy_query in server.c) and read back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
