#include "http_query.h"

#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes the len encoded bytes at text into out (out_len with the NUL).
 * Decoding is checked to the end even when out is full, so that a
 * malformed escape is reported as such whatever the room. */
static chat_query_result_t decode(const char *text, size_t len, char *out, size_t out_len) {
  size_t n = 0;
  bool fits = true;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (len - i < 3)
        return CHAT_QUERY_MALFORMED;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return CHAT_QUERY_MALFORMED; /* "%00" would cut a C string short */
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (n + 1 < out_len)
      out[n++] = c;
    else
      fits = false;
  }
  out[n] = '\0';
  return fits ? CHAT_QUERY_FOUND : CHAT_QUERY_TOO_LONG;
}

/* True when the encoded name (len bytes) decodes to exactly name. */
static bool name_is(const char *encoded, size_t len, const char *name) {
  size_t name_len = strlen(name);
  char decoded[128];
  if (name_len >= sizeof decoded)
    return false;
  return decode(encoded, len, decoded, sizeof decoded) == CHAT_QUERY_FOUND &&
         strcmp(decoded, name) == 0;
}

chat_query_result_t chat_query_get(const char *query, const char *name, char *out,
                                   size_t out_len) {
  out[0] = '\0';
  for (const char *arg = query ? query : ""; *arg;) {
    size_t arg_len = strcspn(arg, "&");
    const char *equals = memchr(arg, '=', arg_len);
    size_t name_len = equals ? (size_t)(equals - arg) : arg_len;
    if (name_is(arg, name_len, name)) {
      if (!equals)
        return CHAT_QUERY_FOUND; /* "flag" alone: the value "" */
      chat_query_result_t result =
          decode(equals + 1, arg_len - name_len - 1, out, out_len);
      if (result != CHAT_QUERY_FOUND)
        out[0] = '\0';
      return result;
    }
    arg += arg_len;
    if (*arg == '&')
      arg++;
  }
  return CHAT_QUERY_ABSENT;
}

void chat_query_append_encoded(bson_string_t *out, const char *text, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      bson_string_append_c(out, (char)c);
    } else {
      char escape[4] = {'%', hex[c >> 4], hex[c & 15], '\0'};
      bson_string_append(out, escape);
    }
  }
}
