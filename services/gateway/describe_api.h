/* `chat-gateway --describe-api` (describe_api.c). */
#ifndef GATEWAY_DESCRIBE_API_H
#define GATEWAY_DESCRIBE_API_H

#include <stdio.h>

#include "api_access.h"

/* Writes {"routes":[...],"events":[...]} and a newline to out: every REST
 * route as {"method","path","auth","scope","object","param"} and every
 * socket event as {"name","auth","scope","object","field","revert"}.
 * Returns the process's exit status: 0, or 1 when out could not be
 * written. Needs no configuration and connects to nothing. */
int gateway_describe_api(FILE *out);

#endif
