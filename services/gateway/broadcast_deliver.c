/* Delivery of chat.broadcast records to this gateway's sockets: the record
 * value is the event payload as clients receive it, so the frame is built
 * once, ["<event>",<value>], and sent to every socket of the target room. */
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "gateway.h"

static void emit_to(void *ctx, void *member) {
  gateway_socket_t *state = member;
  if (state->socket)
    chat_sio_emit(state->socket, ctx, NULL, 0);
}

void gateway_deliver(gateway_t *gw, const char *target, const char *event, const char *scope,
                     const char *value, size_t value_len) {
  if (scope) {
    /* "open"/"closed" depend on which sockets opened the conversation
     * (join_conversation), which arrives with the messaging issue. */
    CHAT_LOG(CHAT_LOG_DEBUG, "broadcast %s to %s with scope %s: not delivered yet", event, target,
             scope);
    return;
  }
  bson_string_t *frame = bson_string_new("[");
  chat_json_append_string(frame, event, strlen(event));
  bson_string_append_printf(frame, ",%.*s]", (int)value_len, value);
  size_t sent = rooms_each(gw->rooms, target, emit_to, frame->str);
  CHAT_LOG(CHAT_LOG_DEBUG, "broadcast %s to %s: %zu sockets", event, target, sent);
  bson_string_free(frame, true);
}
