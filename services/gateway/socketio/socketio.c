#include "socketio/socketio.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"

#define JSON_WRAP_HEAD "{\"d\":" /* see parse_data() */
#define JSON_WRAP_HEAD_LEN 5

struct chat_sio_blob {
  uint8_t *data;
  size_t len;
};

/* The event names the reference parser refuses in an incoming EVENT: the
 * libraries emit them themselves, so a peer must not be able to fake one. */
static const char *const reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

const char *chat_sio_strerror(chat_sio_err_t err) {
  switch (err) {
#define CHAT_SIO_ERR_MSG_(name, msg)                                                               \
  case CHAT_SIO_ERR_##name:                                                                        \
    return msg;
    CHAT_SIO_ERR_MAP(CHAT_SIO_ERR_MSG_)
#undef CHAT_SIO_ERR_MSG_
  case CHAT_SIO_ERR_COUNT_:
    break;
  }
  return "unknown Socket.IO error";
}

static bool is_binary_type(chat_sio_type_t type) {
  return type == CHAT_SIO_BINARY_EVENT || type == CHAT_SIO_BINARY_ACK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Namespaces are path-like: '/' and RFC 3986 unreserved characters. That
 * keeps ',' (the terminator), quotes and control bytes out of them, so a
 * namespace can go into logs, room names and JSON as it is. */
static bool nsp_valid(const char *nsp, size_t len) {
  if (len == 0 || len > CHAT_SIO_NSP_MAX || nsp[0] != '/')
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = nsp[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '/' || c == '-' ||
          c == '_' || c == '.' || c == '~'))
      return false;
  }
  return true;
}

/* The error for data that does not have the shape type requires. */
static chat_sio_err_t data_error(chat_sio_type_t type) {
  switch (type) {
  case CHAT_SIO_CONNECT:
    return CHAT_SIO_ERR_CONNECT_DATA;
  case CHAT_SIO_DISCONNECT:
    return CHAT_SIO_ERR_DISCONNECT_DATA;
  case CHAT_SIO_EVENT:
  case CHAT_SIO_BINARY_EVENT:
    return CHAT_SIO_ERR_EVENT_DATA;
  case CHAT_SIO_ACK:
  case CHAT_SIO_BINARY_ACK:
    return CHAT_SIO_ERR_ACK_DATA;
  case CHAT_SIO_CONNECT_ERROR:
    return CHAT_SIO_ERR_CONNECT_ERROR_DATA;
  }
  return CHAT_SIO_ERR_TYPE;
}

/* True for a JSON object key that libbson's parser would read as extended
 * JSON: "$..." or its escaped spelling "\u0024...". {"$numberInt":"5"}
 * becomes the number 5 without a trace, so it has to be caught in the text. */
static bool key_is_extended(const char *key, size_t len) {
  return (len >= 1 && key[0] == '$') || (len >= 6 && memcmp(key, "\\u0024", 6) == 0);
}

/* Finds where the JSON object or array that starts at json[0] ends (*end,
 * one past its closing bracket), tracking only strings and brackets:
 * libbson checks the grammar afterwards. Knowing the end lets us report
 * trailing bytes, and guarantees that the wrapped text parse_data() gives
 * libbson is one document and nothing else. */
static chat_sio_err_t scan_json(const char *json, size_t len, size_t *end) {
  size_t depth = 0;
  for (size_t i = 0; i < len; i++) {
    char c = json[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < len && json[i] != '"') {
        if ((unsigned char)json[i] < 0x20)
          return CHAT_SIO_ERR_JSON; /* raw control characters are not JSON */
        i += json[i] == '\\' ? 2 : 1;
      }
      if (i >= len)
        return CHAT_SIO_ERR_JSON;
      size_t next = i + 1;
      while (next < len &&
             (json[next] == ' ' || json[next] == '\t' || json[next] == '\n' || json[next] == '\r'))
        next++;
      if (next < len && json[next] == ':' && key_is_extended(json + start, i - start))
        return CHAT_SIO_ERR_EXTENDED_JSON;
    } else if (c == '[' || c == '{') {
      depth++;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) {
        *end = i + 1;
        return CHAT_SIO_ERR_OK;
      }
    }
  }
  return CHAT_SIO_ERR_JSON;
}

bool chat_sio_is_placeholder(const bson_iter_t *it, size_t *num) {
  bson_iter_t child;
  if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &child) ||
      !bson_iter_find(&child, "_placeholder") || !BSON_ITER_HOLDS_BOOL(&child) ||
      !bson_iter_bool(&child))
    return false;
  int64_t value = -1;
  if (bson_iter_recurse(it, &child) && bson_iter_find(&child, "num") &&
      (BSON_ITER_HOLDS_INT32(&child) || BSON_ITER_HOLDS_INT64(&child)))
    value = bson_iter_as_int64(&child);
  *num = value >= 0 ? (size_t)value : SIZE_MAX;
  return true;
}

/* What check_values() learns about the placeholders of a binary packet. */
typedef struct placeholder_check {
  size_t attachments; /* announced */
  size_t found;
  bool seen[CHAT_SIO_ATTACHMENTS_MAX];
} placeholder_check_t;

/* Walks every value under it: only the types plain JSON yields (no NaN),
 * and, when check is not NULL, placeholders that number the attachments
 * each once. libbson nests at most about 100 levels, which bounds the
 * recursion. */
static chat_sio_err_t check_values(bson_iter_t *it, placeholder_check_t *check) {
  while (bson_iter_next(it)) {
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8:
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_BOOL:
    case BSON_TYPE_NULL:
      break;
    case BSON_TYPE_DOUBLE:
      if (!isfinite(bson_iter_double(it)))
        return CHAT_SIO_ERR_JSON; /* libbson reads NaN and Infinity; JSON has neither */
      break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
      size_t num;
      if (check && chat_sio_is_placeholder(it, &num)) {
        if (num >= check->attachments || check->seen[num])
          return CHAT_SIO_ERR_PLACEHOLDER;
        check->seen[num] = true;
        check->found++;
        break;
      }
      bson_iter_t child;
      chat_sio_err_t err =
          bson_iter_recurse(it, &child) ? check_values(&child, check) : CHAT_SIO_ERR_JSON;
      if (err != CHAT_SIO_ERR_OK)
        return err;
      break;
    }
    default:
      return CHAT_SIO_ERR_EXTENDED_JSON; /* $oid, $date, $binary, ... */
    }
  }
  return CHAT_SIO_ERR_OK;
}

/* Parses the JSON data json[0..len) into out->data. libbson's
 * bson_init_from_json() only reads a top-level object, and Socket.IO data is
 * usually an array, so we parse the text wrapped as {"d":<data>} and keep
 * the value of "d". scan_json() has checked that the data is one bracketed
 * value, so the wrapper cannot be closed early by the data, and nothing can
 * follow it: bson_init_from_json() would silently ignore whatever did. */
static chat_sio_err_t parse_data(const char *json, size_t len, chat_sio_packet_t *out) {
  size_t end = 0;
  chat_sio_err_t err;
  if (json[0] != '[' && json[0] != '{')
    return data_error(out->type); /* no packet type takes a bare string or number */
  if ((err = scan_json(json, len, &end)) != CHAT_SIO_ERR_OK)
    return err;
  if (end != len)
    return CHAT_SIO_ERR_TRAILING;

  size_t wrapped_len = JSON_WRAP_HEAD_LEN + len + 1;
  char *wrapped = bson_malloc(wrapped_len);
  memcpy(wrapped, JSON_WRAP_HEAD, JSON_WRAP_HEAD_LEN);
  memcpy(wrapped + JSON_WRAP_HEAD_LEN, json, len);
  wrapped[wrapped_len - 1] = '}';
  bson_t doc;
  bson_error_t error;
  bool parsed = bson_init_from_json(&doc, wrapped, (ssize_t)wrapped_len, &error);
  bson_free(wrapped);
  if (!parsed)
    return CHAT_SIO_ERR_JSON;

  bson_iter_t it, child;
  const uint8_t *value = NULL;
  uint32_t value_len = 0;
  if (!bson_iter_init(&it, &doc) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "d") != 0 ||
      !(BSON_ITER_HOLDS_ARRAY(&it) || BSON_ITER_HOLDS_DOCUMENT(&it))) {
    err = CHAT_SIO_ERR_JSON;
    goto out;
  }
  out->data_is_array = BSON_ITER_HOLDS_ARRAY(&it);
  if (out->data_is_array)
    bson_iter_array(&it, &value_len, &value);
  else
    bson_iter_document(&it, &value_len, &value);
  placeholder_check_t check = {.attachments = out->attachments};
  if (!bson_iter_recurse(&it, &child)) {
    err = CHAT_SIO_ERR_JSON;
    goto out;
  }
  if ((err = check_values(&child, is_binary_type(out->type) ? &check : NULL)) != CHAT_SIO_ERR_OK)
    goto out;
  if (is_binary_type(out->type) && check.found != check.attachments) {
    err = CHAT_SIO_ERR_PLACEHOLDER_MISSING;
    goto out;
  }
  if (bson_iter_next(&it) || !(out->data = bson_new_from_data(value, value_len)))
    err = CHAT_SIO_ERR_JSON; /* cannot happen after scan_json(); kept as a guard */

out:
  bson_destroy(&doc);
  return err;
}

/* Checks the data against what the packet type requires. */
static chat_sio_err_t check_shape(const chat_sio_packet_t *packet) {
  bool is_array = packet->data && packet->data_is_array;
  bool is_object = packet->data && !packet->data_is_array;
  switch (packet->type) {
  case CHAT_SIO_CONNECT:
    return !is_array ? CHAT_SIO_ERR_OK : CHAT_SIO_ERR_CONNECT_DATA;
  case CHAT_SIO_DISCONNECT:
    return !packet->data ? CHAT_SIO_ERR_OK : CHAT_SIO_ERR_DISCONNECT_DATA;
  case CHAT_SIO_ACK:
  case CHAT_SIO_BINARY_ACK:
    return is_array ? CHAT_SIO_ERR_OK : CHAT_SIO_ERR_ACK_DATA;
  case CHAT_SIO_CONNECT_ERROR:
    return is_object ? CHAT_SIO_ERR_OK : CHAT_SIO_ERR_CONNECT_ERROR_DATA;
  case CHAT_SIO_EVENT:
  case CHAT_SIO_BINARY_EVENT: {
    bson_iter_t it;
    uint32_t name_len = 0;
    if (!is_array || !bson_iter_init(&it, packet->data) || !bson_iter_next(&it) ||
        !BSON_ITER_HOLDS_UTF8(&it))
      return CHAT_SIO_ERR_EVENT_DATA;
    const char *name = bson_iter_utf8(&it, &name_len);
    if (strlen(name) != name_len)
      return CHAT_SIO_ERR_EVENT_DATA; /* "a\u0000b" would read as "a" in C */
    for (size_t i = 0; i < sizeof reserved_events / sizeof reserved_events[0]; i++) {
      if (strcmp(name, reserved_events[i]) == 0)
        return CHAT_SIO_ERR_RESERVED_EVENT;
    }
    return CHAT_SIO_ERR_OK;
  }
  }
  return CHAT_SIO_ERR_TYPE;
}

/* The header: type, attachment count, namespace, ack id. Sets *data_start
 * to where the JSON data begins (len when there is none). */
static chat_sio_err_t decode_header(const char *text, size_t len, chat_sio_packet_t *out,
                                    size_t *data_start) {
  size_t i = 0;
  if (text[0] < '0' || text[0] > '6')
    return CHAT_SIO_ERR_TYPE;
  out->type = (chat_sio_type_t)(text[i++] - '0');

  if (is_binary_type(out->type)) {
    size_t digits = 0;
    for (; i < len && is_digit(text[i]); i++, digits++) {
      out->attachments = out->attachments * 10 + (size_t)(text[i] - '0');
      if (out->attachments > CHAT_SIO_ATTACHMENTS_MAX)
        return CHAT_SIO_ERR_ATTACHMENTS;
    }
    if (digits == 0 || i == len || text[i] != '-')
      return CHAT_SIO_ERR_ATTACHMENTS;
    i++;
  }

  /* As in socket.io-parser, the namespace runs to ',' or to the end of the
   * text: clients send "40/admin," and also "40/admin". */
  if (i < len && text[i] == '/') {
    const char *comma = memchr(text + i, ',', len - i);
    size_t nsp_len = (comma ? (size_t)(comma - text) : len) - i;
    if (!nsp_valid(text + i, nsp_len))
      return CHAT_SIO_ERR_NAMESPACE;
    memcpy(out->nsp, text + i, nsp_len);
    out->nsp[nsp_len] = '\0';
    i += nsp_len + (comma ? 1 : 0);
  }

  if (i < len && is_digit(text[i])) {
    int64_t id = 0;
    for (; i < len && is_digit(text[i]); i++) {
      id = id * 10 + (text[i] - '0');
      if (id > CHAT_SIO_ACK_ID_MAX)
        return CHAT_SIO_ERR_ACK_ID;
    }
    out->ack_id = id;
  }
  bool takes_ack_id = out->type == CHAT_SIO_EVENT || out->type == CHAT_SIO_BINARY_EVENT ||
                      out->type == CHAT_SIO_ACK || out->type == CHAT_SIO_BINARY_ACK;
  if (out->ack_id >= 0 && !takes_ack_id)
    return CHAT_SIO_ERR_ACK_ID_UNEXPECTED;
  if (out->ack_id < 0 && (out->type == CHAT_SIO_ACK || out->type == CHAT_SIO_BINARY_ACK))
    return CHAT_SIO_ERR_ACK_ID_MISSING;
  *data_start = i;
  return CHAT_SIO_ERR_OK;
}

chat_sio_err_t chat_sio_decode(const char *text, size_t len, size_t max_len,
                               chat_sio_packet_t *out) {
  chat_sio_err_t err;
  size_t data_start = 0;
  *out = (chat_sio_packet_t){.nsp = "/", .ack_id = -1};
  if (len == 0)
    return CHAT_SIO_ERR_EMPTY;
  if (len > max_len)
    return CHAT_SIO_ERR_TOO_LARGE;
  if ((err = decode_header(text, len, out, &data_start)) == CHAT_SIO_ERR_OK &&
      (data_start == len ||
       (err = parse_data(text + data_start, len - data_start, out)) == CHAT_SIO_ERR_OK))
    err = check_shape(out);
  if (err != CHAT_SIO_ERR_OK)
    chat_sio_packet_clear(out);
  return err;
}

void chat_sio_packet_clear(chat_sio_packet_t *packet) {
  if (!packet)
    return;
  bson_destroy(packet->data);
  for (size_t i = 0; i < packet->received; i++)
    bson_free(packet->received_[i].data);
  bson_free(packet->received_);
  *packet = (chat_sio_packet_t){0};
}

const char *chat_sio_event_name(const chat_sio_packet_t *packet) {
  bson_iter_t it;
  if ((packet->type != CHAT_SIO_EVENT && packet->type != CHAT_SIO_BINARY_EVENT) || !packet->data ||
      !bson_iter_init(&it, packet->data) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it))
    return NULL;
  return bson_iter_utf8(&it, NULL);
}

chat_sio_err_t chat_sio_packet_add_attachment(chat_sio_packet_t *packet, const uint8_t *data,
                                              size_t len) {
  if (!is_binary_type(packet->type) || packet->received >= packet->attachments)
    return CHAT_SIO_ERR_ATTACHMENT_UNEXPECTED;
  if (!packet->received_)
    packet->received_ = bson_malloc0(packet->attachments * sizeof *packet->received_);
  uint8_t *copy = bson_malloc(len ? len : 1);
  if (len)
    memcpy(copy, data, len);
  packet->received_[packet->received++] = (struct chat_sio_blob){copy, len};
  return CHAT_SIO_ERR_OK;
}

bool chat_sio_packet_complete(const chat_sio_packet_t *packet) {
  return packet->received == packet->attachments;
}

chat_sio_attachment_t chat_sio_packet_attachment(const chat_sio_packet_t *packet, size_t num) {
  if (num >= packet->received)
    return (chat_sio_attachment_t){NULL, 0};
  return (chat_sio_attachment_t){packet->received_[num].data, packet->received_[num].len};
}

void chat_sio_encode(bson_string_t *out, chat_sio_type_t type, const char *nsp, int64_t ack_id,
                     size_t attachments, const char *data_json) {
  CHAT_ASSERT(type >= CHAT_SIO_CONNECT && type <= CHAT_SIO_BINARY_ACK);
  CHAT_ASSERT(is_binary_type(type) || attachments == 0);
  CHAT_ASSERT(ack_id <= CHAT_SIO_ACK_ID_MAX);
  bson_string_append_c(out, (char)('0' + type));
  if (is_binary_type(type))
    bson_string_append_printf(out, "%zu-", attachments);
  if (nsp && strcmp(nsp, "/") != 0) {
    CHAT_ASSERT(nsp_valid(nsp, strlen(nsp)));
    bson_string_append(out, nsp);
    bson_string_append_c(out, ',');
  }
  if (ack_id >= 0)
    bson_string_append_printf(out, "%" PRId64, ack_id);
  if (data_json)
    bson_string_append(out, data_json);
}

void chat_sio_encode_event(bson_string_t *out, const char *nsp, int64_t ack_id, const char *event,
                           const char *args_json) {
  chat_sio_encode(out, CHAT_SIO_EVENT, nsp, ack_id, 0, NULL);
  bson_string_append_c(out, '[');
  chat_json_append_string(out, event, strlen(event));
  if (args_json) {
    bson_string_append_c(out, ',');
    bson_string_append(out, args_json);
  }
  bson_string_append_c(out, ']');
}

void chat_sio_append_placeholder(bson_string_t *out, size_t num) {
  bson_string_append_printf(out, "{\"_placeholder\":true,\"num\":%zu}", num);
}

void chat_sio_encode_binary(bson_string_t *header, chat_sio_type_t type, const char *nsp,
                            int64_t ack_id, const char *data_json,
                            const chat_sio_attachment_t *attachments, size_t count,
                            chat_eio_packet_t *frames) {
  CHAT_ASSERT(is_binary_type(type));
  size_t start = header->len;
  chat_sio_encode(header, type, nsp, ack_id, count, data_json);
  frames[0] = (chat_eio_packet_t){CHAT_EIO_MESSAGE, false, (const uint8_t *)header->str + start,
                                  header->len - start};
  for (size_t i = 0; i < count; i++)
    frames[i + 1] =
        (chat_eio_packet_t){CHAT_EIO_MESSAGE, true, attachments[i].data, attachments[i].len};
}
