#include "client_events.h"

#include <string.h>

#include "chat/err.h"
#include "chat/json.h"
#include "chat/log.h"

/* Answers the event's ack (when it asked for one) with an error. */
static void ack_error(chat_sio_socket_t *socket, int64_t ack_id, chat_err_t err,
                      const char *message) {
  if (ack_id < 0)
    return;
  bson_string_t *out = bson_string_new("[{\"ok\":false,\"error\":{\"code\":\"");
  bson_string_append(out, chat_err_code(err));
  bson_string_append(out, "\",\"message\":");
  chat_json_append_string(out, message, strlen(message));
  bson_string_append(out, "}}]");
  chat_sio_ack(socket, ack_id, out->str, NULL, 0);
  bson_string_free(out, true);
}

void gateway_handle_client_event(chat_sio_socket_t *socket, const chat_sio_packet_t *packet) {
  bson_iter_t args;
  const char *name = chat_sio_event_name(packet, &args);
  /* The chat events (send_message, join_conversation, typing, ...) arrive
   * with the messaging issue; until then every event is unknown. */
  char message[160];
  bson_snprintf(message, sizeof message, "unknown event '%.100s'", name ? name : "");
  CHAT_LOG(CHAT_LOG_DEBUG, "socket %s: %s", chat_sio_socket_id(socket), message);
  ack_error(socket, packet->ack_id, CHAT_ERR_UNKNOWN_EVENT, message);
}
