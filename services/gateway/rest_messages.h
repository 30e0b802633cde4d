/* The messages resource (rest_messages.c). */
#ifndef GATEWAY_REST_MESSAGES_H
#define GATEWAY_REST_MESSAGES_H

#include "rest_request.h"

/* POST /api/chat/send: answered 201 once persistence has stored it. */
void rest_send_message(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
/* GET /api/chat/conversations/:id/messages */
void rest_list_messages(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);
/* GET /api/chat/conversations/:id/search?q= */
void rest_search_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);

#endif
