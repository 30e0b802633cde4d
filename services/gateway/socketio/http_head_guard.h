/* The check of an HTTP request head before libwebsockets parses it.
 *
 * libwebsockets 4.1 parses a head one byte at a time into a buffer of
 * max_http_header_data bytes, and before any callback it closes a
 * connection whose head overflows that buffer (or its table of 95 header
 * fragments) without a word, and answers a malformed '%' escape or an
 * unknown method with its own HTML 403 page. So server.c peeks at the
 * head of each new connection first, asks http_head_check() about the
 * bytes that came so far, and either hands the connection to lws, which
 * then reads them (a head it will parse whole), or answers the refusal
 * itself (http_head_answer()) and closes. Pure: no lws, no I/O. */
#ifndef CHAT_SIO_HTTP_HEAD_GUARD_H
#define CHAT_SIO_HTTP_HEAD_GUARD_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 4096        /* bytes of a head: request line, header lines, empty line */
#define HTTP_HEAD_FIELDS_MAX 80   /* header lines and query arguments of one head, in all */
#define HTTP_HEAD_TIMEOUT_SECS 10 /* a head must be whole this long after the connection opened */

typedef enum http_head_verdict {
  HTTP_HEAD_NEED_MORE,        /* no end yet and nothing wrong so far: read on */
  HTTP_HEAD_PASS,             /* a whole head lws will parse; *head_len is its length */
  HTTP_HEAD_TOO_LARGE,        /* 431: no end within HTTP_HEAD_MAX bytes */
  HTTP_HEAD_TOO_MANY_FIELDS,  /* 431: more than HTTP_HEAD_FIELDS_MAX lines and arguments */
  HTTP_HEAD_BAD_ESCAPE,       /* 400: a '%' in the target without two hex digits, or %00 */
  HTTP_HEAD_BAD_REQUEST_LINE, /* 400: no method served, no target, or a control byte in it */
  HTTP_HEAD_BAD_HEADER_LINE,  /* 400: a header line that is not name ':' value */
  HTTP_HEAD_TIMED_OUT,        /* 408: never returned by http_head_check(); the head did not end
                                 within HTTP_HEAD_TIMEOUT_SECS (http_head_answer() only) */
} http_head_verdict_t;

/* Looks at the first len bytes a connection sent (at most HTTP_HEAD_MAX of
 * them count). Returns HTTP_HEAD_PASS with *head_len set (what follows it
 * is a body or a next request, not looked at), HTTP_HEAD_NEED_MORE, or the
 * refusal. Lines end in "\r\n" or "\n" (lws takes both); every line is
 * judged once it is whole, in order, so a verdict other than NEED_MORE
 * never changes when more bytes come. What passes fits lws 4.1.6's parser
 * with max_http_header_data of at least HTTP_HEAD_LWS_BUFFER_MIN. */
http_head_verdict_t http_head_check(const uint8_t *bytes, size_t len, size_t *head_len);

/* The least max_http_header_data for which lws parses every head that
 * http_head_check() passes: lws keeps each known header's value with a NUL
 * (less than its line) and each other header's name and value with 8
 * bytes of its own (lib/roles/http/parsers.c, WSI_TOKEN_NAME_PART), so
 * at most HTTP_HEAD_MAX bytes plus 8 a line, and a few for the request
 * line's NULs. */
#define HTTP_HEAD_LWS_BUFFER_MIN (HTTP_HEAD_MAX + 8 * HTTP_HEAD_FIELDS_MAX + 64)

/* Appends the whole HTTP/1.1 answer to a refusal (any verdict but NEED_MORE
 * and PASS): status line, JSON content type, length and "connection:
 * close", then the REST envelope {"success":false,"error":{"code",
 * "message"}} that says what was wrong. */
void http_head_answer(bson_string_t *out, http_head_verdict_t verdict);

/* The HTTP status of a refusal (431, 400 or 408); 0 for NEED_MORE and PASS. */
int http_head_status(http_head_verdict_t verdict);

#endif
