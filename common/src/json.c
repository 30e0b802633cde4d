#include "chat/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Returns the escape sequence for byte c, or NULL when c is written raw.
 * short_buf holds the \u00XX form for the control characters that have no
 * short escape. */
static const char *escape_for(unsigned char c, char short_buf[8]) {
  switch (c) {
  case '"':
    return "\\\"";
  case '\\':
    return "\\\\";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  case '\b':
    return "\\b";
  case '\f':
    return "\\f";
  default:
    if (c < 0x20) {
      snprintf(short_buf, 8, "\\u%04x", c);
      return short_buf;
    }
    return NULL;
  }
}

/* Length of the UTF-8 sequence that lead byte c starts (1 for ASCII and for
 * stray bytes, which are copied one at a time). */
static size_t utf8_sequence_length(unsigned char c) {
  if (c >= 0xf0 && c < 0xf8)
    return 4;
  if (c >= 0xe0)
    return c < 0xf0 ? 3 : 1;
  if (c >= 0xc0)
    return 2;
  return 1;
}

size_t chat_json_escape_into(char *dst, size_t cap, const char *str, size_t len) {
  size_t out = 0;
  if (cap == 0)
    return 0;
  for (size_t i = 0; i < len;) {
    char short_buf[8];
    const char *esc = escape_for((unsigned char)str[i], short_buf);
    size_t need = esc ? strlen(esc) : utf8_sequence_length((unsigned char)str[i]);
    if (!esc && i + need > len)
      need = len - i;
    if (out + need >= cap)
      break; /* keep room for the NUL and never split a character */
    memcpy(dst + out, esc ? esc : str + i, need);
    out += need;
    i += esc ? 1 : need;
  }
  dst[out] = '\0';
  return out;
}

void chat_json_append_string(bson_string_t *out, const char *str, size_t len) {
  size_t run_start = 0;
  bson_string_append_c(out, '"');
  for (size_t i = 0; i <= len; i++) {
    char short_buf[8];
    const char *esc = i < len ? escape_for((unsigned char)str[i], short_buf) : NULL;
    if (i < len && !esc)
      continue;
    /* Copy the unescaped run before an escape (or the end) in one go; runs
     * never hold a NUL, since NUL is a control character and escaped. */
    if (i > run_start)
      bson_string_append_printf(out, "%.*s", (int)(i - run_start), str + run_start);
    if (esc)
      bson_string_append(out, esc);
    run_start = i + 1;
  }
  bson_string_append_c(out, '"');
}

static void append_double(bson_string_t *out, double value) {
  char buf[40];
  if (!isfinite(value)) {
    bson_string_append(out, "null"); /* JSON has no NaN or infinity */
    return;
  }
  /* The shortest of %.15g and %.17g that reads back as the same double. */
  snprintf(buf, sizeof buf, "%.15g", value);
  if (strtod(buf, NULL) != value)
    snprintf(buf, sizeof buf, "%.17g", value);
  bson_string_append(out, buf);
}

static chat_err_t append_value(bson_string_t *out, const bson_iter_t *it);

static chat_err_t append_container(bson_string_t *out, bson_iter_t *child, bool is_array) {
  bool first = true;
  bson_string_append_c(out, is_array ? '[' : '{');
  while (bson_iter_next(child)) {
    if (!first)
      bson_string_append_c(out, ',');
    first = false;
    if (!is_array) {
      chat_json_append_string(out, bson_iter_key(child), bson_iter_key_len(child));
      bson_string_append_c(out, ':');
    }
    chat_err_t err = append_value(out, child);
    if (err != CHAT_OK)
      return err;
  }
  bson_string_append_c(out, is_array ? ']' : '}');
  return CHAT_OK;
}

static chat_err_t append_value(bson_string_t *out, const bson_iter_t *it) {
  switch (bson_iter_type(it)) {
  case BSON_TYPE_UTF8: {
    uint32_t len = 0;
    const char *str = bson_iter_utf8(it, &len);
    chat_json_append_string(out, str, len);
    return CHAT_OK;
  }
  case BSON_TYPE_INT32:
    bson_string_append_printf(out, "%d", bson_iter_int32(it));
    return CHAT_OK;
  case BSON_TYPE_INT64:
    bson_string_append_printf(out, "%lld", (long long)bson_iter_int64(it));
    return CHAT_OK;
  case BSON_TYPE_DOUBLE:
    append_double(out, bson_iter_double(it));
    return CHAT_OK;
  case BSON_TYPE_BOOL:
    bson_string_append(out, bson_iter_bool(it) ? "true" : "false");
    return CHAT_OK;
  case BSON_TYPE_NULL:
    bson_string_append(out, "null");
    return CHAT_OK;
  case BSON_TYPE_DATE_TIME:
    chat_json_append_time(out, bson_iter_date_time(it));
    return CHAT_OK;
  case BSON_TYPE_DOCUMENT:
  case BSON_TYPE_ARRAY: {
    bson_iter_t child;
    if (!bson_iter_recurse(it, &child))
      return CHAT_ERR_INVALID;
    return append_container(out, &child, bson_iter_type(it) == BSON_TYPE_ARRAY);
  }
  default:
    return CHAT_ERR_INVALID;
  }
}

void chat_json_format_time(int64_t ms, char out[CHAT_JSON_TIME_SIZE]) {
  time_t seconds = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = (int)(ms - (int64_t)seconds * 1000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char text[64]; /* room for any int the compiler imagines */
  snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  memcpy(out, text, CHAT_JSON_TIME_SIZE - 1); /* years 0..9999: always 24 characters */
  out[CHAT_JSON_TIME_SIZE - 1] = '\0';
}

bool chat_json_parse_time(const char *text, int64_t *ms) {
  int year, month, day, hour, minute, second, millis, used = 0;
  if (!text || strlen(text) != CHAT_JSON_TIME_SIZE - 1 ||
      sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &year, &month, &day, &hour, &minute, &second,
             &millis, &used) != 7 ||
      used != CHAT_JSON_TIME_SIZE - 1 || month < 1 || month > 12 || day < 1 || day > 31 ||
      hour > 23 || minute > 59 || second > 60 || millis < 0)
    return false;
  struct tm tm = {.tm_year = year - 1900,
                  .tm_mon = month - 1,
                  .tm_mday = day,
                  .tm_hour = hour,
                  .tm_min = minute,
                  .tm_sec = second};
  *ms = (int64_t)timegm(&tm) * 1000 + millis;
  return true;
}

void chat_json_append_time(bson_string_t *out, int64_t ms) {
  char text[CHAT_JSON_TIME_SIZE];
  chat_json_format_time(ms, text);
  bson_string_append_printf(out, "\"%s\"", text);
}

chat_err_t chat_json_append(bson_string_t *out, const bson_t *doc, bool is_array) {
  bson_iter_t it;
  if (!bson_iter_init(&it, doc))
    return CHAT_ERR_INVALID;
  return append_container(out, &it, is_array);
}

/* True when every value in doc is one plain JSON can express. libbson's
 * parser also reads MongoDB extended JSON ({"$oid": ...}, {"$date": ...}),
 * which must not slip in from a client and change type on the way. */
static bool only_plain_json_types(bson_iter_t *it) {
  while (bson_iter_next(it)) {
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8:
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_BOOL:
    case BSON_TYPE_NULL:
      break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
      bson_iter_t child;
      if (!bson_iter_recurse(it, &child) || !only_plain_json_types(&child))
        return false;
      break;
    }
    default:
      return false;
    }
  }
  return true;
}

chat_err_t chat_json_parse(const char *text, size_t len, size_t max_len, bson_t *out, char *errbuf,
                           size_t errbuf_len) {
  bson_error_t error;
  size_t i = 0;
  if (errbuf && errbuf_len)
    errbuf[0] = '\0';
  if (len > max_len) {
    if (errbuf)
      snprintf(errbuf, errbuf_len, "JSON of %zu bytes exceeds the limit of %zu", len, max_len);
    return CHAT_ERR_TOO_LARGE;
  }
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
    i++;
  if (i == len || text[i] != '{') {
    if (errbuf)
      snprintf(errbuf, errbuf_len, "expected a JSON object");
    return CHAT_ERR_JSON;
  }
  /* A reader rather than bson_init_from_json(), which stops after the
   * first document and ignores whatever follows it: exactly one object,
   * then only white space. */
  bson_json_reader_t *reader = bson_json_data_reader_new(true, len + 1);
  bson_json_data_reader_ingest(reader, (const uint8_t *)text, len);
  bson_init(out);
  int first = bson_json_reader_read(reader, out, &error);
  bson_t rest = BSON_INITIALIZER;
  bson_error_t rest_error;
  int second = first == 1 ? bson_json_reader_read(reader, &rest, &rest_error) : 0;
  bson_destroy(&rest);
  bson_json_reader_destroy(reader);
  if (first != 1 || second != 0) {
    bson_destroy(out);
    if (errbuf)
      snprintf(errbuf, errbuf_len, "malformed JSON: %s",
               first != 1 ? (first < 0 ? error.message : "no object")
                          : "data after the JSON object");
    return CHAT_ERR_JSON;
  }
  bson_iter_t it;
  if (!bson_iter_init(&it, out) || !only_plain_json_types(&it)) {
    bson_destroy(out);
    if (errbuf)
      snprintf(errbuf, errbuf_len, "extended JSON values ($oid, $date, ...) are not accepted");
    return CHAT_ERR_JSON;
  }
  return CHAT_OK;
}
