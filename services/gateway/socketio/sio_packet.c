#include "sio_packet.h"

#include <string.h>

#include "chat/json.h"

static bool valid_nsp_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("/_-.~", c) != NULL;
}

static bool data_shape_ok(const chat_sio_packet_t *packet, const char **why) {
  bson_iter_t it;
  bool has = bson_iter_init_find(&it, &packet->data, "d");
  switch (packet->type) {
  case CHAT_SIO_CONNECT:
    if (has && !BSON_ITER_HOLDS_DOCUMENT(&it))
      return *why = "CONNECT data must be an object", false;
    return true;
  case CHAT_SIO_DISCONNECT:
    return has ? (*why = "DISCONNECT carries no data", false) : true;
  case CHAT_SIO_CONNECT_ERROR:
    if (!has || !BSON_ITER_HOLDS_DOCUMENT(&it))
      return *why = "CONNECT_ERROR data must be an object", false;
    return true;
  case CHAT_SIO_EVENT:
  case CHAT_SIO_BINARY_EVENT: {
    bson_iter_t first;
    if (!has || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &first) ||
        !bson_iter_next(&first) || !BSON_ITER_HOLDS_UTF8(&first))
      return *why = "EVENT data must be an array starting with the event name", false;
    /* Names the Socket.IO reference implementation keeps for itself. */
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    uint32_t name_len = 0;
    const char *name = bson_iter_utf8(&first, &name_len);
    if (strlen(name) != name_len)
      return *why = "NUL byte in event name", false;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
      if (strcmp(name, reserved[i]) == 0)
        return *why = "reserved event name", false;
    }
    return true;
  }
  case CHAT_SIO_ACK:
  case CHAT_SIO_BINARY_ACK:
    if (!has || !BSON_ITER_HOLDS_ARRAY(&it))
      return *why = "ACK data must be an array", false;
    return true;
  }
  return *why = "unknown packet type", false;
}

bool chat_sio_decode(const char *text, size_t len, size_t max_len, chat_sio_packet_t *packet,
                     const char **why) {
  size_t i = 0;
  memset(packet, 0, sizeof *packet);
  packet->ack_id = -1;
  strcpy(packet->nsp, "/");
  bson_init(&packet->data); /* so cleanup is safe whatever fails below */
  if (len > max_len)
    return *why = "packet too large", false;
  if (len == 0 || text[0] < '0' || text[0] > '6')
    return *why = "unknown packet type", false;
  if (memchr(text, '\0', len))
    return *why = "NUL byte in packet", false;
  packet->type = (chat_sio_type_t)(text[i++] - '0');

  if (packet->type == CHAT_SIO_BINARY_EVENT || packet->type == CHAT_SIO_BINARY_ACK) {
    int count = 0;
    size_t digits = 0;
    while (i < len && text[i] >= '0' && text[i] <= '9' && digits < 3) {
      count = count * 10 + (text[i++] - '0');
      digits++;
    }
    if (digits == 0 || i >= len || text[i] != '-' || count > CHAT_SIO_MAX_ATTACHMENTS)
      return *why = "bad attachment count", false;
    i++;
    packet->attachments = count;
  }

  if (i < len && text[i] == '/') {
    size_t start = i;
    while (i < len && text[i] != ',') {
      if (!valid_nsp_char(text[i]))
        return *why = "bad namespace", false;
      i++;
    }
    if (i - start >= CHAT_SIO_NSP_MAX)
      return *why = "namespace too long", false;
    memcpy(packet->nsp, text + start, i - start);
    packet->nsp[i - start] = '\0';
    if (i < len)
      i++; /* the ',' (a CONNECT to a namespace may omit it at the end) */
  }

  if (i < len && text[i] >= '0' && text[i] <= '9') {
    int64_t id = 0;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
      id = id * 10 + (text[i++] - '0');
      if (id > CHAT_SIO_MAX_ACK_ID)
        return *why = "ack id out of range", false;
    }
    packet->ack_id = id;
    if (packet->type != CHAT_SIO_EVENT && packet->type != CHAT_SIO_ACK &&
        packet->type != CHAT_SIO_BINARY_EVENT && packet->type != CHAT_SIO_BINARY_ACK)
      return *why = "ack id on a packet that takes none", false;
  }
  if ((packet->type == CHAT_SIO_ACK || packet->type == CHAT_SIO_BINARY_ACK) && packet->ack_id < 0)
    return *why = "ACK without an ack id", false;

  if (i < len) {
    bson_destroy(&packet->data);
    /* Wrap the data so libbson, which parses only objects, takes arrays. */
    bson_string_t *wrapped = bson_string_new("{\"d\":");
    bson_string_append_printf(wrapped, "%.*s}", (int)(len - i), text + i);
    char jwhy[128];
    bool ok = chat_json_parse(wrapped->str, wrapped->len, max_len + 8, &packet->data, jwhy,
                              sizeof jwhy) == CHAT_OK;
    bson_string_free(wrapped, true);
    if (!ok) {
      bson_init(&packet->data);
      return *why = "malformed JSON data", false;
    }
    /* The wrapper must hold the data and nothing else: text such as
     * ["a"],"e":1 would otherwise add keys of its own. */
    if (bson_count_keys(&packet->data) != 1)
      return *why = "malformed JSON data", false;
  }
  if (!data_shape_ok(packet, why)) {
    bson_destroy(&packet->data);
    bson_init(&packet->data);
    return false;
  }
  return true;
}

void chat_sio_packet_move(chat_sio_packet_t *to, chat_sio_packet_t *from) {
  to->type = from->type;
  memcpy(to->nsp, from->nsp, sizeof to->nsp);
  to->ack_id = from->ack_id;
  to->attachments = from->attachments;
  if (!bson_steal(&to->data, &from->data)) { /* a static document: copied instead */
    bson_copy_to(&from->data, &to->data);
    bson_destroy(&from->data);
  }
  bson_init(&from->data);
}

void chat_sio_packet_cleanup(chat_sio_packet_t *packet) {
  if (packet)
    bson_destroy(&packet->data);
}

const char *chat_sio_event_name(const chat_sio_packet_t *packet, bson_iter_t *args) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &packet->data, "d") || !bson_iter_recurse(&it, args) ||
      !bson_iter_next(args) || !BSON_ITER_HOLDS_UTF8(args))
    return NULL;
  return bson_iter_utf8(args, NULL);
}

void chat_sio_append_header(bson_string_t *out, chat_sio_type_t type, int attachments,
                            const char *nsp, int64_t ack_id) {
  bson_string_append_c(out, (char)('0' + type));
  if (type == CHAT_SIO_BINARY_EVENT || type == CHAT_SIO_BINARY_ACK)
    bson_string_append_printf(out, "%d-", attachments);
  if (nsp && strcmp(nsp, "/") != 0)
    bson_string_append_printf(out, "%s,", nsp);
  if (ack_id >= 0)
    bson_string_append_printf(out, "%lld", (long long)ack_id);
}
