/* The REST API of seed 001 and seed 004 on the gateway's port, answered in
 * seed 004's envelope: {"success":true,"data":...} or
 * {"success":false,"error":{"code":...,"message":...}}. */
#ifndef GATEWAY_REST_H
#define GATEWAY_REST_H

#include "chat/err.h"
#include "gateway.h"

/* Routes one request (a chat_sio_handlers_t.on_http); ctx is the gateway. */
void gateway_handle_http(void *ctx, const chat_http_request_t *request);

/* Answers with the error envelope. */
void rest_reply_error(gateway_t *gw, uint64_t request_id, int status, chat_err_t err,
                      const char *message);

/* Answers {"success":true,"data":<data_json>}. */
void rest_reply_data(gateway_t *gw, uint64_t request_id, int status, const char *data_json);

/* Account routes (rest_accounts.c). */
void rest_register(gateway_t *gw, const chat_http_request_t *request);
void rest_login(gateway_t *gw, const chat_http_request_t *request);
void rest_list_users(gateway_t *gw, const chat_http_request_t *request);

/* persistence's answer to a user.register (a command.result for this
 * gateway); value is its JSON. Loop thread. */
void accounts_on_command_result(gateway_t *gw, const char *correlation_id, const char *value,
                                size_t value_len);

/* Answers 504 to registrations past their deadline; call about once a
 * second on the loop thread. */
void accounts_expire(gateway_t *gw);

/* Frees the registrations still waiting, at shutdown. */
void accounts_discard_pending(gateway_t *gw);

#endif
