/* What the caller has read (rest_unread.c). */
#ifndef GATEWAY_REST_UNREAD_H
#define GATEWAY_REST_UNREAD_H

#include "rest_request.h"

/* PUT /api/chat/conversations/:id/read: answered once receipts confirms. */
void rest_mark_read(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
/* GET /api/chat/unread-count: {"count"}. */
void rest_unread_count(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
/* GET /api/chat/unread: the conversations with unread messages. */
void rest_unread(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);

#endif
