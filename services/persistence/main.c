/* persistence: consumes chat.commands, owns the users, conversations,
 * members and messages collections, and publishes what changed to
 * chat.broadcast and chat.events (docs/architecture.md). */
#include "cache_metrics.h"
#include "chat/runtime.h"
#include "handle_conversation.h"
#include "handle_message_edit.h"
#include "handle_message_send.h"
#include "handle_user_register.h"
#include "summary_writer.h"

/* Conversation summaries are written behind the messages over this many
 * pooled connections (summary_writer.h). */
#define SUMMARY_WRITERS 8
/* How long a revocation waits for the summaries of what it gives up. */
#define REVOKE_DRAIN_MS 5000

static chat_err_t start_summary_writer(chat_runtime_t *rt) {
  const chat_config_t *cfg = chat_runtime_config(rt);
  return summary_writer_start(chat_runtime_mongo(rt), SUMMARY_WRITERS,
                              (size_t)cfg->cached_conversations, cfg->summary_interval_ms,
                              cfg->summary_interval_max_ms);
}

static void drain_summaries(chat_runtime_t *rt) {
  (void)rt;
  summary_writer_drain(REVOKE_DRAIN_MS);
}

static void stop_summary_writer(chat_runtime_t *rt) {
  summary_writer_stop(chat_runtime_config(rt)->shutdown_timeout_ms);
}

/* The indexes this service owns (docs/architecture.md, "Storage"). */
static const chat_mongo_index_t persistence_indexes[] = {
    {"users", "username_unique", "{\"username\":1}", true},
    {"conversations", "last_message_at", "{\"lastMessageAt\":-1}", false},
    /* GET /api/chat/conversations and the unread routes (docs/queries.md) */
    {"conversations", "participant_last_message_at",
     "{\"participants\":1,\"lastMessageAt\":-1,\"createdAt\":-1}", false},
    {"members", "conversation_user_unique", "{\"conversationId\":1,\"userId\":1}", true},
    {"members", "user_conversations", "{\"userId\":1,\"conversationId\":1}", false},
    /* (senderId, clientMsgId) needs no index of its own: a message's _id is
     * derived from it (handle_message_send.c), so _id's unique index
     * refuses a second copy, and no query filters on the pair. */
    {"messages", "conversation_seq_unique", "{\"conversationId\":1,\"seq\":1}", true},
    /* The texts edits replaced, by message (docs/queries.md); never read by a route yet. */
    {"message_versions", "message_replaced_at", "{\"messageId\":1,\"replacedAt\":1}", false},
};

/* One handler per command type; the dispatcher logs and skips the types
 * not listed. */
static const chat_event_handler_t persistence_handlers[] = {
    {"user.register", persistence_handle_user_register, NULL},
    {"message.send", NULL, persistence_handle_message_sends},
    {"message.delete", persistence_handle_message_delete, NULL},
    {"message.edit", persistence_handle_message_edit, NULL},
    {"reaction.add", persistence_handle_reaction_add, NULL},
    {"reaction.remove", persistence_handle_reaction_remove, NULL},
    {"conversation.create", persistence_handle_conversation_create, NULL},
    {"member.add", persistence_handle_member_add, NULL},
    {"member.remove", persistence_handle_member_remove, NULL},
    {"conversation.leave", persistence_handle_conversation_leave, NULL},
    {"conversation.delete", persistence_handle_conversation_delete, NULL},
};

int main(void) {
  const chat_service_spec_t spec = {
      .runtime = {.service = CHAT_SERVICE_PERSISTENCE,
                  .indexes = persistence_indexes,
                  .index_count = sizeof persistence_indexes / sizeof persistence_indexes[0]},
      .group_name = "chat.persistence",
      .topic = CHAT_TOPIC_COMMANDS,
      .handlers = persistence_handlers,
      .handler_count = sizeof persistence_handlers / sizeof persistence_handlers[0],
      .batch_max = 500,
      .max_record_bytes = 1 << 20,
      .after_batch = persistence_cache_metrics,
      .start = start_summary_writer,
      .before_revoke = drain_summaries,
      .stop = stop_summary_writer,
  };
  return chat_service_run(&spec);
}
