#include "socket_acks.h"

#include <string.h>

#include "chat/error_json.h"
#include "chat/json.h"

void gateway_ack_error(chat_sio_socket_t *socket, int64_t ack_id, chat_err_t err,
                       const char *message) {
  if (ack_id < 0)
    return;
  bson_string_t *out = bson_string_new("[");
  chat_error_reply_json(out, chat_err_code(err), message);
  bson_string_append_c(out, ']');
  chat_sio_ack(socket, ack_id, out->str, NULL, 0);
  bson_string_free(out, true);
}

void gateway_ack_ok(chat_sio_socket_t *socket, int64_t ack_id, const char *fields_json) {
  if (ack_id < 0)
    return;
  if (!fields_json) {
    chat_sio_ack(socket, ack_id, "[{\"ok\":true}]", NULL, 0);
    return;
  }
  bson_string_t *out = bson_string_new("[{\"ok\":true,");
  bson_string_append(out, fields_json);
  bson_string_append(out, "}]");
  chat_sio_ack(socket, ack_id, out->str, NULL, 0);
  bson_string_free(out, true);
}

void gateway_ack_json(chat_sio_socket_t *socket, int64_t ack_id, const char *json) {
  if (ack_id < 0)
    return;
  bson_string_t *out = bson_string_new("[");
  bson_string_append(out, json);
  bson_string_append_c(out, ']');
  chat_sio_ack(socket, ack_id, out->str, NULL, 0);
  bson_string_free(out, true);
}

void gateway_ack_guest_error(chat_sio_socket_t *socket, int64_t ack_id, const char *message) {
  if (ack_id < 0)
    return;
  bson_string_t *out = bson_string_new("{\"error\":");
  chat_json_append_string(out, message, strlen(message));
  bson_string_append_c(out, '}');
  gateway_ack_json(socket, ack_id, out->str);
  bson_string_free(out, true);
}

void gateway_refuse_message_command(chat_sio_socket_t *socket, int64_t ack_id, const char *revert,
                                    const char *message_id, chat_err_t err, const char *reason) {
  gateway_ack_error(socket, ack_id, err, reason);
  bson_string_t *event = bson_string_new("[");
  chat_json_append_string(event, revert, strlen(revert));
  bson_string_append(event, ",{\"messageId\":");
  chat_json_append_string(event, message_id, strlen(message_id));
  bson_string_append(event, ",\"reason\":");
  chat_json_append_string(event, reason, strlen(reason));
  bson_string_append_printf(event, ",\"code\":\"%s\"}]", chat_err_code(err));
  chat_sio_emit(socket, event->str, NULL, 0);
  bson_string_free(event, true);
}
