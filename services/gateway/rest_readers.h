/* GET /api/chat/messages/:id/readers (rest_readers.c): who in a group has
 * read one of its messages, for a member (docs/architecture.md, "Who read
 * it"). */
#ifndef GATEWAY_REST_READERS_H
#define GATEWAY_REST_READERS_H

#include "rest_request.h"

void rest_message_readers(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);

#endif
