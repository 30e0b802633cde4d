/* Matching a REST request's path against a route's pattern
 * ("/api/chat/conversations/:id/members/:userId"). Pure: no I/O, so that
 * it is unit tested and fuzzed (tests/fuzz/rest_fuzz.c) alone. */
#ifndef GATEWAY_REST_ROUTE_H
#define GATEWAY_REST_ROUTE_H

#include <stdbool.h>

/* The :name segments of a route's path, in order ("" past the last). */
#define REST_PARAMS_MAX 2
#define REST_PARAM_MAX 64
typedef struct rest_params {
  char values[REST_PARAMS_MAX][REST_PARAM_MAX];
} rest_params_t;

/* True when path matches pattern, whose ":name" segments match one
 * non-empty segment each (of fewer than REST_PARAM_MAX bytes), copied into
 * *params in order; *params is cleared first whatever the answer. */
bool rest_path_match(const char *pattern, const char *path, rest_params_t *params);

#endif
