/* JSON text <-> BSON documents, through libbson's parser and our own
 * canonical, compact writer.
 *
 * The writer's output is the wire form that proto/ fixes: no whitespace,
 * keys in document order, only '"', '\\' and control characters escaped,
 * UTF-8 written raw, integers in decimal. The same document always renders
 * to the same bytes, which is what the test vectors check. */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <bson/bson.h>
#include <stddef.h>

#include "chat/err.h"

/* Parses a JSON object of at most max_len bytes into *out (initialised by
 * this call; the caller bson_destroy()s it on CHAT_OK only).
 * Returns CHAT_OK, CHAT_ERR_TOO_LARGE when len > max_len, or CHAT_ERR_JSON
 * for text that is not one JSON object; errbuf (may be NULL) then gets a
 * message fit for a client. */
chat_err_t chat_json_parse(const char *text, size_t len, size_t max_len, bson_t *out, char *errbuf,
                           size_t errbuf_len);

/* Appends the canonical JSON of doc to out, as an object (is_array false) or
 * an array (true). Returns CHAT_OK or CHAT_ERR_INVALID for a BSON type that
 * has no place in our JSON (binary, regex, ...). */
chat_err_t chat_json_append(bson_string_t *out, const bson_t *doc, bool is_array);

/* "2026-01-21T10:30:00.000Z" and its NUL. */
#define CHAT_JSON_TIME_SIZE 25

/* Writes ms (since the epoch) as ISO-8601 UTC with milliseconds, the form
 * of every timestamp inside payloads (proto/README.md). BSON date-times in
 * documents given to chat_json_append() are written the same way. */
void chat_json_format_time(int64_t ms, char out[CHAT_JSON_TIME_SIZE]);

/* Reads what chat_json_format_time() writes. false for anything else. */
bool chat_json_parse_time(const char *text, int64_t *ms);

/* Appends ms as a quoted ISO-8601 string. */
void chat_json_append_time(bson_string_t *out, int64_t ms);

/* Appends str[0..len) as a quoted JSON string. */
void chat_json_append_string(bson_string_t *out, const char *str, size_t len);

/* Writes str[0..len) JSON-escaped, without quotes, into dst (capacity cap,
 * always NUL-terminated), cutting at a character boundary when it does not
 * fit. Returns the number of bytes written before the NUL. For log lines,
 * where nothing may be allocated. */
size_t chat_json_escape_into(char *dst, size_t cap, const char *str, size_t len);

#endif
