#include "mark_read.h"

#include "chat/envelope.h"
#include "chat/json.h"
#include "chat/topics.h"
#include "produce.h"

chat_err_t gateway_mark_conversation_read(gateway_t *gw, const char *user_id,
                                          const char *conversation_id, const char *connection_id,
                                          const char *correlation_id) {
  chat_envelope_t env;
  char when[CHAT_JSON_TIME_SIZE];
  chat_err_t err = chat_envelope_init(&env, "read.mark_conversation", chat_runtime_source(gw->rt),
                                      correlation_id);
  if (err != CHAT_OK)
    return err;
  chat_json_format_time(env.ts, when);
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "userId", user_id);
  BSON_APPEND_UTF8(&env.payload, "readAt", when);
  if (connection_id)
    BSON_APPEND_UTF8(&env.payload, "connectionId", connection_id);
  return gateway_produce(gw, CHAT_TOPIC_RECEIPTS, &env, conversation_id, 0);
}
