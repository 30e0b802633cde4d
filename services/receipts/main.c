/* receipts: consumes chat.receipts, owns the read_states collection (one
 * watermark per member and conversation) and publishes messages_read and
 * read.updated (docs/architecture.md). */
#include "chat/runtime.h"
#include "handle_read.h"

/* The indexes this service owns (docs/architecture.md, "Storage"). */
static const chat_mongo_index_t receipts_indexes[] = {
    {"read_states", "conversation_user_unique", "{\"conversationId\":1,\"userId\":1}", true},
    {"read_states", "user_read_states", "{\"userId\":1}", false},
};

static const chat_event_handler_t receipts_handlers[] = {
    {"read.mark_conversation", receipts_handle_mark_conversation, NULL},
    {"read.mark_message", receipts_handle_mark_message, NULL},
};

int main(void) {
  const chat_service_spec_t spec = {
      .runtime = {.service = CHAT_SERVICE_RECEIPTS,
                  .indexes = receipts_indexes,
                  .index_count = sizeof receipts_indexes / sizeof receipts_indexes[0]},
      .group_name = "chat.receipts",
      .topic = CHAT_TOPIC_RECEIPTS,
      .handlers = receipts_handlers,
      .handler_count = sizeof receipts_handlers / sizeof receipts_handlers[0],
      .batch_max = 500,
      .max_record_bytes = 64 * 1024,
  };
  return chat_service_run(&spec);
}
