/* receipts: consumes chat.receipts, owns the read_states collection (one
 * watermark per member and conversation) and publishes messages_read and
 * read.updated (docs/architecture.md). */
#include "chat/runtime.h"

/* The indexes this service owns (docs/architecture.md, "Storage"). */
static const chat_mongo_index_t receipts_indexes[] = {
    {"read_states", "conversation_user_unique", "{\"conversationId\":1,\"userId\":1}", true},
    {"read_states", "user_read_states", "{\"userId\":1}", false},
};

int main(void) {
  /* Mark-as-read handlers arrive with the read-receipts issue; until then
   * the dispatcher logs and skips every event. */
  const chat_service_spec_t spec = {
      .runtime = {.service = CHAT_SERVICE_RECEIPTS,
                  .indexes = receipts_indexes,
                  .index_count = sizeof receipts_indexes / sizeof receipts_indexes[0]},
      .group_name = "chat.receipts",
      .topic = CHAT_TOPIC_RECEIPTS,
      .handlers = NULL,
      .handler_count = 0,
      .batch_max = 500,
      .max_record_bytes = 64 * 1024,
  };
  return chat_service_run(&spec);
}
