/* `chat-gateway --describe-api`: the gateway's own tables of REST routes
 * and socket events, with who may use each, as one JSON object on stdout.
 * It reads no configuration and connects to nothing, so a test (or an
 * operator) can ask any build what it serves. */
#include "describe_api.h"

#include "client_events.h"
#include "rest.h"

int gateway_describe_api(FILE *out) {
  bson_string_t *json = bson_string_new("{\"routes\":");
  rest_describe_routes(json);
  bson_string_append(json, ",\"events\":");
  gateway_describe_client_events(json);
  bson_string_append(json, "}\n");
  bool written = fputs(json->str, out) >= 0 && fflush(out) == 0;
  bson_string_free(json, true);
  return written ? 0 : 1;
}
