/* presence: consumes chat.presence (session open/close, gateway
 * heartbeats, guests coming and going) and message.created of
 * chat.events, owns the sessions, presence, gateways, guests and
 * notification_requests collections, and publishes online/offline
 * changes, guest rooms' user lists and notification.requested for offline
 * members (docs/architecture.md, "Presence", "Guest rooms", "Push for
 * offline members"). */
#include "chat/runtime.h"
#include "guests.h"
#include "handle_message_created.h"
#include "handle_presence.h"

/* The indexes this service owns (docs/architecture.md, "Storage"). */
static const chat_mongo_index_t presence_indexes[] = {
    {"sessions", "gateway_connection_unique", "{\"gatewayId\":1,\"connectionId\":1}", true},
    {"sessions", "user_sessions", "{\"userId\":1}", false},
    {"guests", "room_guests", "{\"room\":1,\"joinedAt\":1}", false},
    {"guests", "gateway_guests", "{\"gatewayId\":1}", false},
};

static const chat_event_handler_t presence_handlers[] = {
    {"session.opened", presence_handle_session_opened, NULL},
    {"session.closed", presence_handle_session_closed, NULL},
    {"gateway.heartbeat", presence_handle_heartbeat, NULL},
    {"guest.joined", presence_handle_guest_joined, NULL},
    {"guest.left", presence_handle_guest_left, NULL},
    /* From chat.events: push for offline members. */
    {"message.created", presence_handle_message_created, NULL},
};

/* Every second: the expiry of silent gateways, and now and then the
 * claims of notification.requested that dedupe nothing any more. */
static void tick(chat_runtime_t *rt) {
  presence_expire_gateways(rt);
  presence_prune_notification_requests(rt);
}

int main(void) {
  const chat_service_spec_t spec = {
      .runtime = {.service = CHAT_SERVICE_PRESENCE,
                  .indexes = presence_indexes,
                  .index_count = sizeof presence_indexes / sizeof presence_indexes[0]},
      .group_name = "chat.presence",
      .topic = CHAT_TOPIC_PRESENCE,
      .also_events = true,
      .handlers = presence_handlers,
      .handler_count = sizeof presence_handlers / sizeof presence_handlers[0],
      .batch_max = 500,
      .max_record_bytes = 64 * 1024,
      .tick = tick,
      .tick_ms = 1000,
  };
  return chat_service_run(&spec);
}
