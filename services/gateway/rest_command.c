#include "rest_command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/error_json.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "produce.h"
#include "rest_pending.h"
#include "rest_request.h"

struct rest_command {
  uint64_t request_id;
  int ok_status;          /* 201 for a creation, 200 otherwise */
  const char *ok_message; /* the "message" beside data, or NULL */
  char correlation_id[CHAT_ENVELOPE_CORRELATION_MAX];
};

/* The envelope's correlation id: an ObjectId, unique without a lookup. */
static void fresh_correlation_id(char out[CHAT_ID_SIZE]) {
  bson_oid_t oid;
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, out);
}

static int status_of(const char *code) {
  static const struct {
    const char *code;
    int status;
  } map[] = {{"FORBIDDEN", 403}, {"NOT_FOUND", 404},        {"BAD_PAYLOAD", 400},
             {"TOO_LARGE", 413}, {"INVALID_ARGUMENT", 400}, {"RATE_LIMITED", 429}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (strcmp(map[i].code, code) == 0)
      return map[i].status;
  }
  return 500;
}

static void on_command_result(gateway_t *gw, void *ctx, const char *value, size_t value_len,
                              bool stopping) {
  rest_command_t *call = ctx;
  bson_t result;
  bson_iter_t it, data, code, message;
  if (stopping) {
    rest_reply_error(gw, call->request_id, 503, CHAT_ERR_STOPPED,
                     "the gateway is shutting down; the change may have been made");
  } else if (!value) {
    rest_reply_error(gw, call->request_id, 504, CHAT_ERR_TIMEOUT,
                     "accepted but not confirmed in time; it is safe to send it again");
  } else if (chat_json_parse(value, value_len, 1 << 20, &result, NULL, 0) != CHAT_OK) {
    rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
  } else {
    if (bson_iter_init_find(&it, &result, "ok") && BSON_ITER_HOLDS_BOOL(&it) &&
        bson_iter_bool(&it) && bson_iter_init_find(&data, &result, "data") &&
        BSON_ITER_HOLDS_DOCUMENT(&data)) {
      bson_t doc;
      const uint8_t *buf;
      uint32_t len;
      bson_iter_document(&data, &len, &buf);
      bson_string_t *out = bson_string_new("{\"success\":true,");
      if (call->ok_message)
        bson_string_append_printf(out, "\"message\":\"%s\",", call->ok_message);
      bson_string_append(out, "\"data\":");
      if (bson_init_static(&doc, buf, len) && chat_json_append(out, &doc, false) == CHAT_OK) {
        bson_string_append_c(out, '}');
        chat_sio_http_respond(gw->sio, call->request_id, call->ok_status, out->str);
      } else {
        rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
      }
      bson_string_free(out, true);
    } else if (bson_iter_init(&it, &result) &&
               bson_iter_find_descendant(&it, "error.code", &code) && BSON_ITER_HOLDS_UTF8(&code) &&
               bson_iter_init(&it, &result) &&
               bson_iter_find_descendant(&it, "error.message", &message) &&
               BSON_ITER_HOLDS_UTF8(&message)) {
      const char *code_str = bson_iter_utf8(&code, NULL);
      bson_string_t *out = bson_string_new(NULL);
      chat_error_rest_json(out, code_str, bson_iter_utf8(&message, NULL));
      chat_sio_http_respond(gw->sio, call->request_id, status_of(code_str), out->str);
      bson_string_free(out, true);
    } else {
      rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
    }
    bson_destroy(&result);
  }
  free(call);
}

rest_command_t *rest_command_new(uint64_t request_id, const char *correlation_id, int ok_status,
                                 const char *ok_message) {
  rest_command_t *call = calloc(1, sizeof *call);
  if (!call)
    return NULL;
  call->request_id = request_id;
  call->ok_status = ok_status;
  call->ok_message = ok_message;
  if (correlation_id)
    snprintf(call->correlation_id, sizeof call->correlation_id, "%s", correlation_id);
  else
    fresh_correlation_id(call->correlation_id);
  return call;
}

const char *rest_command_correlation_id(const rest_command_t *call) {
  return call->correlation_id;
}

void rest_command_wait(gateway_t *gw, uint64_t request_id, rest_command_t *call,
                       chat_err_t produced) {
  chat_err_t err = call ? produced : CHAT_ERR_NOMEM;
  if (err == CHAT_OK)
    err = rest_pending_add(gw, call->correlation_id, REST_COMMAND_TIMEOUT_MS, on_command_result,
                           call);
  if (err != CHAT_OK) {
    free(call);
    rest_reply_error(gw, request_id, 503, CHAT_ERR_UNAVAILABLE,
                     "cannot reach Kafka now, try again");
  }
}

chat_err_t rest_command_init(gateway_t *gw, const char *type, chat_envelope_t *env) {
  char correlation_id[CHAT_ID_SIZE];
  fresh_correlation_id(correlation_id);
  return chat_envelope_init(env, type, chat_runtime_source(gw->rt), correlation_id);
}

void rest_command_run(gateway_t *gw, uint64_t request_id, chat_topic_t topic, chat_envelope_t *env,
                      const char *key, int ok_status, const char *ok_message) {
  rest_command_t *call = rest_command_new(request_id, env->correlation_id, ok_status, ok_message);
  chat_err_t err = CHAT_ERR_NOMEM;
  if (call)
    err = gateway_produce(gw, topic, env, key, 0);
  else
    chat_envelope_cleanup(env);
  rest_command_wait(gw, request_id, call, err);
}
