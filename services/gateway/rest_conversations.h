/* The conversations resource (rest_conversations.c). */
#ifndef GATEWAY_REST_CONVERSATIONS_H
#define GATEWAY_REST_CONVERSATIONS_H

#include "rest_request.h"

/* GET /api/chat/conversations: the caller's, newest activity first. */
void rest_list_conversations(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params);
/* POST /api/v1/chat/convo/one-to-one?otherUserId=: the caller's 1-1
 * conversation with that user, which may not exist yet. */
void rest_direct_details(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params);
/* GET /api/v1/chat/convo/one-to-one/message?otherUserId=&from=&limit=:
 * a page of that conversation's messages, before seq from. */
void rest_direct_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);
/* GET /api/chat/conversations/:id/members */
void rest_list_members(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);

#endif
