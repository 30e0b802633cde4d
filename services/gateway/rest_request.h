/* What every REST route does with its request: check the token, read the
 * query arguments, and answer in the REST envelope,
 * {"success":true,"data":...} or
 * {"success":false,"error":{"code":...,"message":...}}. Loop thread only. */
#ifndef GATEWAY_REST_REQUEST_H
#define GATEWAY_REST_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"
#include "chat/jwt.h"
#include "gateway.h"
#include "http_query.h"
#include "rest_route.h"
#include "server.h"

/* A route's handler: answers request (now or later) with params, the
 * values of its path's :parameters. */
typedef void (*rest_handler_fn)(gateway_t *gw, const chat_http_request_t *request,
                                const rest_params_t *params);

/* Answers with the error envelope. */
void rest_reply_error(gateway_t *gw, uint64_t request_id, int status, chat_err_t err,
                      const char *message);

/* Answers {"success":true,"data":<data_json>}. */
void rest_reply_data(gateway_t *gw, uint64_t request_id, int status, const char *data_json);

/* Checks "Authorization: Bearer <token>". Returns true with *claims set,
 * or false after answering 401. */
bool rest_authenticate(gateway_t *gw, const chat_http_request_t *request,
                       chat_jwt_claims_t *claims);

/* Reads query argument name, decoded, into out (chat_query_get()):
 * true with *result CHAT_QUERY_ABSENT, _FOUND or _TOO_LONG (out is then
 * ""), or false after answering 400 when it is malformed. */
bool rest_query_text(gateway_t *gw, const chat_http_request_t *request, const char *name,
                     char *out, size_t out_len, chat_query_result_t *result);

/* Reads integer query argument name into *out: *out = fallback when
 * absent; false (after answering 400) when it is not an integer in
 * [min, max]. */
bool rest_query_int(gateway_t *gw, const chat_http_request_t *request, const char *name,
                    int64_t fallback, int64_t min, int64_t max, int64_t *out);

#endif
