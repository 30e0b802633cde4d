/* Group chats and message deletion (rest_groups.c): each a command that
 * persistence checks and carries out, answered with its outcome. */
#ifndef GATEWAY_REST_GROUPS_H
#define GATEWAY_REST_GROUPS_H

#include "rest_request.h"

/* POST /api/chat/conversations */
void rest_create_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
/* POST /api/chat/conversations/:id/members */
void rest_add_members(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params);
/* DELETE /api/chat/conversations/:id/members/:userId */
void rest_remove_member(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params);
/* POST /api/chat/conversations/:id/leave */
void rest_leave_group(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params);
/* DELETE /api/chat/conversations/:id */
void rest_delete_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
/* DELETE /api/chat/messages/:id */
void rest_delete_message(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params);

#endif
