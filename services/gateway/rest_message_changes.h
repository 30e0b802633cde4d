/* The REST routes that change a stored message: PATCH
 * /api/chat/messages/:id {content} (the sender edits it), PUT and DELETE
 * /api/chat/messages/:id/reactions/:emoji (the caller reacts with an
 * emoji, percent-encoded in the path, or takes it back). Each is a
 * command on chat.commands that persistence checks and carries out; the
 * call answers with its outcome (rest_command.h). */
#ifndef GATEWAY_REST_MESSAGE_CHANGES_H
#define GATEWAY_REST_MESSAGE_CHANGES_H

#include "rest_request.h"

void rest_edit_message(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_add_reaction(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params);
void rest_remove_reaction(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params);

#endif
