#include "rest_message_changes.h"

#include <string.h>

#include "chat/ids.h"
#include "chat/json.h"
#include "change_request.h"
#include "produce.h"
#include "rest_command.h"
#include "rest_request.h"

static int status_of(chat_err_t err) { return err == CHAT_ERR_TOO_LARGE ? 413 : 400; }

/* Authenticates and checks the message id of the path. */
static bool start(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params,
                  chat_jwt_claims_t *claims) {
  if (!rest_authenticate(gw, request, claims))
    return false;
  if (chat_is_id(params->values[0]))
    return true;
  rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, "the message id must be 24 hex digits");
  return false;
}

/* Produces env (when err is CHAT_OK) and waits for persistence's answer. */
static void run(gateway_t *gw, const chat_http_request_t *request, rest_command_t *call,
                const char *message_id, chat_err_t err, chat_envelope_t *env) {
  if (err == CHAT_OK)
    err = gateway_produce(gw, CHAT_TOPIC_COMMANDS, env, message_id, 0);
  rest_command_wait(gw, request->id, call, err);
}

void rest_edit_message(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  chat_jwt_claims_t claims;
  if (!start(gw, request, params, &claims))
    return;
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  bson_t body;
  if (chat_json_parse((const char *)request->body, request->body_len,
                      (size_t)cfg->max_payload_bytes, &body, NULL, 0) != CHAT_OK) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_JSON,
                     "the body must be a JSON object {content}");
    return;
  }
  const char *content;
  uint32_t len;
  bool present;
  chat_err_t err;
  change_request_string(&body, "content", &content, &len, &present);
  const char *problem =
      change_request_check_content(content, len, present, cfg->max_content_bytes, &err);
  if (problem) {
    rest_reply_error(gw, request->id, status_of(err), err, problem);
    bson_destroy(&body);
    return;
  }
  rest_command_t *call = rest_command_new(request->id, NULL, 200, "Message edited");
  chat_envelope_t env;
  err = call ? change_request_edit_command(params->values[0], claims.sub, content, len,
                                           chat_runtime_source(gw->rt), NULL,
                                           rest_command_correlation_id(call), &env)
             : CHAT_ERR_NOMEM;
  run(gw, request, call, params->values[0], err, &env);
  bson_destroy(&body);
}

static void reaction(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params, bool add) {
  chat_jwt_claims_t claims;
  if (!start(gw, request, params, &claims))
    return;
  /* The server decoded the path's percent escapes: the emoji is UTF-8. */
  const char *emoji = params->values[1];
  uint32_t len = (uint32_t)strlen(emoji);
  chat_err_t err;
  const char *problem = change_request_check_emoji(emoji, len, true, &err);
  if (problem) {
    rest_reply_error(gw, request->id, 400, err, problem);
    return;
  }
  rest_command_t *call =
      rest_command_new(request->id, NULL, 200, add ? "Reaction added" : "Reaction removed");
  chat_envelope_t env;
  err = call ? change_request_reaction_command(add, params->values[0], claims.sub, emoji, len,
                                               chat_runtime_source(gw->rt), NULL,
                                               rest_command_correlation_id(call), &env)
             : CHAT_ERR_NOMEM;
  run(gw, request, call, params->values[0], err, &env);
}

void rest_add_reaction(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  reaction(gw, request, params, true);
}

void rest_remove_reaction(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params) {
  reaction(gw, request, params, false);
}
