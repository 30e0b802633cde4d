/* The error body on the wire, one writer for every service: the object
 * {"code","message"} (proto/events/command.result.schema.json, error; the
 * error of message_ack) and the two envelopes around it, that of command
 * results and socket acks ({"ok":false,"error":...}) and that of REST
 * answers ({"success":false,"error":...}, proto/openapi.yaml, Error). */
#ifndef CHAT_ERROR_JSON_H
#define CHAT_ERROR_JSON_H

#include <bson/bson.h>

/* Appends {"code":<code>,"message":<message>}, both JSON-escaped. code is
 * chat_err_code() of an error, or one read from a command result. */
void chat_error_json(bson_string_t *out, const char *code, const char *message);

/* Appends {"ok":false,"error":{"code","message"}}: a command's result, a
 * socket ack. */
void chat_error_reply_json(bson_string_t *out, const char *code, const char *message);

/* Appends {"success":false,"error":{"code","message"}}: a REST answer. */
void chat_error_rest_json(bson_string_t *out, const char *code, const char *message);

#endif
