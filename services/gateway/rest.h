/* The REST API on the gateway's port (rest.c): the route table and its
 * dispatch. Answers are in one envelope, {"success":true,"data":...} or
 * {"success":false,"error":{"code":...,"message":...}} (rest_request.h). */
#ifndef GATEWAY_REST_H
#define GATEWAY_REST_H

#include <bson/bson.h>

#include "server.h"

/* Routes one request (a chat_sio_handlers_t.on_http); ctx is the gateway. */
void gateway_handle_http(void *ctx, const chat_http_request_t *request);

/* Appends every route of the router's table, with who may call it, as a
 * JSON array (describe_api.c): [{"method","path","auth","scope","object",
 * "param"}, ...]. */
void rest_describe_routes(bson_string_t *out);

#endif
