#include "http_head_guard.h"

#include <stdbool.h>
#include <string.h>

#include "chat/err.h"
#include "chat/error_json.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* What a line may be judged: fine so far, or the refusal. */
#define LINE_OK HTTP_HEAD_NEED_MORE

/* The methods lws 4.1.6 parses (lib/roles/http/parsers.c, methods[], with
 * LWS_WITH_HTTP_UNCOMMON_HEADERS as Debian builds it); it matches them
 * without regard to case, and so do we. Any other is its HTML 403, and
 * CONNECT it turns into a raw socket that nothing here serves, which then
 * stays open unanswered as long as the peer keeps it (lws_handshake_server(),
 * "Changing to RAW mode"): refused here too. */
static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};

static bool is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A character of an RFC 9110 token (a header name). */
static bool is_token_char(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool known_method(const uint8_t *name, size_t len) {
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    if (strlen(methods[i]) != len)
      continue;
    size_t j = 0;
    while (j < len && (name[j] & ~0x20) == methods[i][j])
      j++;
    if (j == len)
      return true;
  }
  return false;
}

/* The request line (without its line end): a method, spaces, the target
 * up to the next space, then whatever lws makes of the version. Adds the
 * target's query arguments to *fields: lws starts a fragment at the first
 * '?' and at every '&' or ';' not escaped, path included. */
static http_head_verdict_t check_request_line(const uint8_t *line, size_t len, size_t *fields) {
  size_t i = 0;
  while (i < len && line[i] != ' ')
    i++;
  if (i == len || !known_method(line, i))
    return HTTP_HEAD_BAD_REQUEST_LINE;
  while (i < len && line[i] == ' ')
    i++;
  size_t start = i;
  bool query = false;
  for (; i < len && line[i] != ' '; i++) {
    uint8_t c = line[i];
    if (c < 0x20 || c == 0x7f)
      return HTTP_HEAD_BAD_REQUEST_LINE; /* lws fails on a NUL, and takes a CR for a line end */
    if (c == '%') {
      /* lws refuses what is not two hex digits, and fails on the NUL of %00. */
      if (i + 2 >= len || !is_hex(line[i + 1]) || !is_hex(line[i + 2]) ||
          (line[i + 1] == '0' && line[i + 2] == '0'))
        return HTTP_HEAD_BAD_ESCAPE;
      i += 2;
    } else if (c == '?' && !query) {
      query = true;
      (*fields)++;
    } else if (c == '&' || c == ';') {
      (*fields)++;
    }
  }
  if (i == start)
    return HTTP_HEAD_BAD_REQUEST_LINE;
  return *fields > HTTP_HEAD_FIELDS_MAX ? HTTP_HEAD_TOO_MANY_FIELDS : LINE_OK;
}

/* A header line (without its line end): a token, then a colon at once.
 * A folded line (starting with a space or a tab) is refused, as RFC 9112
 * lets a server do; lws would take it for a header of its own. */
static http_head_verdict_t check_header_line(const uint8_t *line, size_t len) {
  size_t i = 0;
  while (i < len && is_token_char(line[i]))
    i++;
  return i > 0 && i < len && line[i] == ':' ? LINE_OK : HTTP_HEAD_BAD_HEADER_LINE;
}

http_head_verdict_t http_head_check(const uint8_t *bytes, size_t len, size_t *head_len) {
  /* Only the first HTTP_HEAD_MAX bytes count, so that a verdict on more
   * bytes is the same as on fewer, whatever they are. */
  size_t window = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
  size_t start = 0, fields = 0;
  for (bool first = true; start < window; first = false) {
    const uint8_t *newline = memchr(bytes + start, '\n', window - start);
    if (!newline)
      break;
    const uint8_t *line = bytes + start;
    size_t end = (size_t)(newline - bytes);
    size_t line_len = end - start;
    if (line_len && line[line_len - 1] == '\r')
      line_len--;
    start = end + 1;
    http_head_verdict_t verdict;
    if (first) {
      verdict = check_request_line(line, line_len, &fields);
    } else if (line_len == 0) {
      *head_len = start;
      return HTTP_HEAD_PASS;
    } else {
      verdict = check_header_line(line, line_len);
      if (verdict == LINE_OK && ++fields > HTTP_HEAD_FIELDS_MAX)
        verdict = HTTP_HEAD_TOO_MANY_FIELDS;
    }
    if (verdict != LINE_OK)
      return verdict;
  }
  return len >= HTTP_HEAD_MAX ? HTTP_HEAD_TOO_LARGE : HTTP_HEAD_NEED_MORE;
}

static const struct refusal {
  int status;
  const char *reason; /* of the status line */
  chat_err_t err;
  const char *message;
} refusals[] = {
    [HTTP_HEAD_TOO_LARGE] = {431, "Request Header Fields Too Large", CHAT_ERR_TOO_LARGE,
                             "request headers too large: at most " STRINGIFY(
                                 HTTP_HEAD_MAX) " bytes"},
    [HTTP_HEAD_TOO_MANY_FIELDS] = {431, "Request Header Fields Too Large", CHAT_ERR_TOO_LARGE,
                                   "too many header lines and query arguments: at most " STRINGIFY(
                                       HTTP_HEAD_FIELDS_MAX) " in all"},
    [HTTP_HEAD_BAD_ESCAPE] = {400, "Bad Request", CHAT_ERR_INVALID,
                              "malformed percent escape in the request target: '%' must be "
                              "followed by two hex digits (and not %00)"},
    [HTTP_HEAD_BAD_REQUEST_LINE] = {400, "Bad Request", CHAT_ERR_INVALID,
                                    "malformed request line: it must be a method served here "
                                    "(GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD), a space and "
                                    "a request target without control characters"},
    [HTTP_HEAD_BAD_HEADER_LINE] = {400, "Bad Request", CHAT_ERR_INVALID,
                                   "malformed header line: each must be a name, a colon and a "
                                   "value (no space before the colon, no folded lines)"},
    [HTTP_HEAD_TIMED_OUT] = {408, "Request Timeout", CHAT_ERR_TIMEOUT,
                             "request head not complete within " STRINGIFY(
                                 HTTP_HEAD_TIMEOUT_SECS) " s"},
};

int http_head_status(http_head_verdict_t verdict) {
  return (size_t)verdict < sizeof refusals / sizeof refusals[0] ? refusals[verdict].status : 0;
}

void http_head_answer(bson_string_t *out, http_head_verdict_t verdict) {
  const struct refusal *refusal = &refusals[verdict];
  BSON_ASSERT(http_head_status(verdict) != 0);
  bson_string_t *body = bson_string_new(NULL);
  chat_error_rest_json(body, chat_err_code(refusal->err), refusal->message);
  bson_string_append_printf(out,
                            "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                            "content-length: %u\r\nconnection: close\r\n\r\n%s",
                            refusal->status, refusal->reason, body->len, body->str);
  bson_string_free(body, true);
}
