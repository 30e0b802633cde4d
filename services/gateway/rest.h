/* The REST API of seed 001 and seed 004 on the gateway's port, answered in
 * seed 004's envelope: {"success":true,"data":...} or
 * {"success":false,"error":{"code":...,"message":...}}. */
#ifndef GATEWAY_REST_H
#define GATEWAY_REST_H

#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/jwt.h"
#include "chat/topics.h"
#include "gateway.h"
#include "server.h"
#include "http_query.h"
#include "rest_route.h"

/* Routes one request (a chat_sio_handlers_t.on_http); ctx is the gateway. */
void gateway_handle_http(void *ctx, const chat_http_request_t *request);

/* Appends every route of the router's table, with who may call it, as a
 * JSON array (describe_api.c): [{"method","path","auth","scope","object",
 * "param"}, ...]. */
void rest_describe_routes(bson_string_t *out);

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

/* A command a REST call waits for (rest_chat.c): init starts env with a
 * fresh correlation id; run produces it to topic with key and answers the
 * call from its command.result: ok_status with {success, message?, data},
 * or the error's code mapped to a status; 504 after 10 s. */
chat_err_t rest_command_init(gateway_t *gw, const char *type, chat_envelope_t *env);
void rest_command_run(gateway_t *gw, uint64_t request_id, chat_topic_t topic, chat_envelope_t *env,
                      const char *key, int ok_status, const char *ok_message);

/* Account routes (rest_accounts.c). */
void rest_register(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
void rest_login(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
void rest_list_users(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params);

/* Chat routes (rest_chat.c), seed 004 and seed 002. */
void rest_send_message(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_list_conversations(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params);
void rest_list_messages(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);
void rest_direct_details(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params);
void rest_direct_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);
void rest_user_presence(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);
void rest_mark_read(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
void rest_unread_count(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_unread(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
void rest_search_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);
void rest_list_members(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);

/* Group chats and deletion (rest_groups.c), seed 001 and seed 000. */
void rest_create_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_add_members(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params);
void rest_remove_member(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);
void rest_leave_group(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params);
void rest_delete_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_delete_message(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params);

#endif
