/* GET /api/users/:id/presence (rest_presence.c). */
#ifndef GATEWAY_REST_PRESENCE_H
#define GATEWAY_REST_PRESENCE_H

#include "rest_request.h"

void rest_user_presence(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);

#endif
