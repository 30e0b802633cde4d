/* Accounts (rest_accounts.c): register, login and the user list. */
#ifndef GATEWAY_REST_ACCOUNTS_H
#define GATEWAY_REST_ACCOUNTS_H

#include "rest_request.h"

/* POST /api/auth/register: answered once persistence has stored the user. */
void rest_register(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
/* POST /api/auth/login */
void rest_login(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params);
/* GET /api/users */
void rest_list_users(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params);

#endif
