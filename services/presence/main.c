/* presence: consumes chat.presence (session open/close, gateway
 * heartbeats), owns the sessions and presence collections, and publishes
 * online/offline changes (docs/architecture.md). */
#include "chat/runtime.h"

/* The indexes this service owns (docs/architecture.md, "Storage"). */
static const chat_mongo_index_t presence_indexes[] = {
    {"sessions", "gateway_connection_unique", "{\"gatewayId\":1,\"connectionId\":1}", true},
    {"sessions", "user_sessions", "{\"userId\":1}", false},
};

int main(void) {
  /* Session and heartbeat handlers arrive with the presence issue; until
   * then the dispatcher logs and skips every event. */
  const chat_service_spec_t spec = {
      .runtime = {.service = CHAT_SERVICE_PRESENCE,
                  .indexes = presence_indexes,
                  .index_count = sizeof presence_indexes / sizeof presence_indexes[0]},
      .group_name = "chat.presence",
      .topic = CHAT_TOPIC_PRESENCE,
      .handlers = NULL,
      .handler_count = 0,
      .batch_max = 500,
      .max_record_bytes = 64 * 1024,
  };
  return chat_service_run(&spec);
}
