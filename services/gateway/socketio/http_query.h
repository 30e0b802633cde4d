/* The query string of an HTTP request ("a=1&b=x%26y"), read the way
 * browsers write it (application/x-www-form-urlencoded): split on '&' and
 * on each argument's first '=' while still encoded, then each name and
 * value percent-decoded, '+' as a space. The one decoder of every query
 * argument the gateway reads (REST routes and the Socket.IO handshake).
 * Pure: no I/O, no allocation. */
#ifndef CHAT_HTTP_QUERY_H
#define CHAT_HTTP_QUERY_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum chat_query_result {
  CHAT_QUERY_ABSENT,    /* no argument of that name */
  CHAT_QUERY_FOUND,     /* copied, decoded, into out */
  CHAT_QUERY_TOO_LONG,  /* present, but its decoded value does not fit in out */
  CHAT_QUERY_MALFORMED, /* present, but a '%' not followed by two hex digits, or "%00" */
} chat_query_result_t;

/* Copies the decoded value of the first argument of query whose decoded
 * name is name into out (out_len bytes with the NUL; out_len >= 1). An
 * argument without '=' has the value "". An argument with a malformed
 * name is skipped (it cannot be told to be name). Returns one of the
 * results above; out holds "" unless CHAT_QUERY_FOUND. */
chat_query_result_t chat_query_get(const char *query, const char *name, char *out,
                                   size_t out_len);

/* Appends len bytes of text percent-encoded for a query string: every byte
 * but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX, so that '&', '=',
 * '+', '%' and ' ' in text survive chat_query_get(). */
void chat_query_append_encoded(bson_string_t *out, const char *text, size_t len);

#endif
