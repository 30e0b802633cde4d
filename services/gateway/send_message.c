#include "send_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/envelope.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "client_events.h"

/* A send_message waiting for its delivery report; holds a reference on
 * the socket's state, which may have disconnected by then. */
typedef struct pending_send {
  gateway_socket_t *state;
  int64_t ack_id;
  char client_msg_id[SEND_CLIENT_MSG_ID_MAX + 1];
  char conversation_id[CHAT_ID_SIZE];
} pending_send_t;

/* A delivery report on its way from the producer's thread to the loop. */
typedef struct delivery_report {
  gateway_t *gw;
  uint64_t request_id;
  chat_err_t err;
} delivery_report_t;

static const char *string_field(const bson_t *doc, const char *key, bool *present, uint32_t *len) {
  bson_iter_t it;
  *present = bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
  if (!*present || !BSON_ITER_HOLDS_UTF8(&it))
    return NULL;
  return bson_iter_utf8(&it, len);
}

static bool has_control_characters(const char *str, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f)
      return true;
  }
  return false;
}

const char *send_request_read(const bson_t *doc, const char *sender_id, int max_content_bytes,
                              send_request_t *out, chat_err_t *err) {
  bool present;
  uint32_t len = 0;
  memset(out, 0, sizeof *out);
  *err = CHAT_ERR_INVALID;
  const char *value = string_field(doc, "clientMsgId", &present, &len);
  if (present) {
    if (!value || len == 0 || len > SEND_CLIENT_MSG_ID_MAX || has_control_characters(value, len))
      return "clientMsgId must be a string of 1 to 128 printable bytes";
    memcpy(out->client_msg_id, value, len + 1);
  } else {
    /* Seed 004's clients send none: such a message cannot be deduplicated
     * when resent, but it goes through. */
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, out->client_msg_id);
  }
  out->content = string_field(doc, "content", &present, &out->content_len);
  if (!out->content)
    return "content is required and must be a string";
  if (out->content_len == 0)
    return "content must not be empty";
  if (out->content_len > (uint32_t)max_content_bytes) {
    *err = CHAT_ERR_TOO_LARGE;
    return "content is longer than the limit (CHAT_MAX_CONTENT_BYTES)";
  }
  if (memchr(out->content, '\0', out->content_len))
    return "content must not contain NUL characters";
  value = string_field(doc, "attachmentUrl", &present, &len);
  if (present) {
    if (!value || len > SEND_ATTACHMENT_URL_MAX ||
        (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
        has_control_characters(value, len))
      return "attachmentUrl must be an http(s) URL of at most 2048 bytes, or null";
    out->attachment_url = value;
  }
  const char *conversation_id = string_field(doc, "conversationId", &present, &len);
  if (present && (!conversation_id || !chat_is_id(conversation_id)))
    return "conversationId must be 24 hex digits";
  const char *receiver_id = string_field(doc, "receiverId", &present, &len);
  if (present && (!receiver_id || !chat_is_id(receiver_id)))
    return "receiverId must be 24 hex digits";
  if (!conversation_id && !receiver_id)
    return "conversationId or receiverId is required";
  if (receiver_id) {
    /* A 1-1 send names its conversation by the pair: the id is derived
     * from the two user ids, and a conversationId beside it must be that
     * one, so that a receiverId never vouches for another conversation. */
    if (strcmp(receiver_id, sender_id) == 0)
      return "cannot send a message to yourself";
    memcpy(out->receiver_id, receiver_id, CHAT_ID_SIZE);
    if (!chat_direct_conversation_id(sender_id, receiver_id, out->conversation_id))
      return "receiverId must be 24 hex digits";
    if (conversation_id && strcmp(conversation_id, out->conversation_id) != 0)
      return "conversationId is not the direct conversation with receiverId";
  } else {
    memcpy(out->conversation_id, conversation_id, CHAT_ID_SIZE);
  }
  *err = CHAT_OK;
  return NULL;
}

chat_err_t send_request_produce(gateway_t *gw, const send_request_t *req, const char *sender_id,
                                const char *connection_id, const char *correlation_id,
                                uint64_t request_id) {
  chat_envelope_t env;
  chat_err_t err =
      chat_envelope_init(&env, "message.send", chat_runtime_source(gw->rt), correlation_id);
  if (err != CHAT_OK)
    return err;
  bson_t *p = &env.payload;
  BSON_APPEND_UTF8(p, "clientMsgId", req->client_msg_id);
  BSON_APPEND_UTF8(p, "senderId", sender_id);
  BSON_APPEND_UTF8(p, "conversationId", req->conversation_id);
  if (req->receiver_id[0])
    BSON_APPEND_UTF8(p, "receiverId", req->receiver_id);
  bson_append_utf8(p, "content", 7, req->content, (int)req->content_len);
  if (req->attachment_url)
    BSON_APPEND_UTF8(p, "attachmentUrl", req->attachment_url);
  else
    BSON_APPEND_NULL(p, "attachmentUrl");
  if (connection_id)
    BSON_APPEND_UTF8(p, "connectionId", connection_id);
  return gateway_produce(gw, CHAT_TOPIC_COMMANDS, &env, req->conversation_id, request_id);
}

void gateway_send_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                          int64_t ack_id) {
  const uint8_t *data = NULL;
  uint32_t data_len = 0;
  bson_t doc;
  if (!bson_iter_next(args) || !BSON_ITER_HOLDS_DOCUMENT(args) ||
      (bson_iter_document(args, &data_len, &data), !bson_init_static(&doc, data, data_len))) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_INVALID,
                      "expected {conversationId | receiverId, content, clientMsgId} as the first "
                      "argument");
    return;
  }
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  send_request_t req;
  chat_err_t err;
  const char *problem = send_request_read(&doc, state->user_id, cfg->max_content_bytes, &req, &err);
  if (problem) {
    gateway_ack_error(state->socket, ack_id, err, problem);
    return;
  }
  /* A group or an existing conversation: the socket must be in its room.
   * A first message to a user opens their direct conversation; persistence
   * checks that the receiver exists. */
  char room[CHAT_ID_SIZE + 8];
  snprintf(room, sizeof room, "room:%s", req.conversation_id);
  if (!req.receiver_id[0] && !gateway_socket_in_room(state, room)) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_FORBIDDEN,
                      "not a member of this conversation");
    return;
  }
  pending_send_t *pending = calloc(1, sizeof *pending);
  uint64_t request_id = ++gw->next_request_id;
  if (!pending || !id_table_put(gw->sends, request_id, pending)) {
    free(pending);
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_NOMEM, "server busy, try again");
    return;
  }
  pending->state = state;
  pending->ack_id = ack_id;
  memcpy(pending->client_msg_id, req.client_msg_id, sizeof pending->client_msg_id);
  memcpy(pending->conversation_id, req.conversation_id, sizeof pending->conversation_id);
  state->refs++;
  char connection_id[CHAT_CONFIG_STR_MAX + 64];
  snprintf(connection_id, sizeof connection_id, "%s/%s", cfg->instance_id,
           chat_sio_socket_id(state->socket));
  err = send_request_produce(gw, &req, state->user_id, connection_id, NULL, request_id);
  if (err != CHAT_OK) {
    id_table_take(gw->sends, request_id);
    gateway_socket_release(state);
    free(pending);
    gateway_ack_error(state->socket, ack_id, err == CHAT_ERR_TOO_LARGE ? err : CHAT_ERR_UNAVAILABLE,
                      err == CHAT_ERR_TOO_LARGE ? "message too large for Kafka"
                                                : "cannot reach Kafka now; send it again with the "
                                                  "same clientMsgId");
  }
}

static void report_on_loop(void *arg) {
  delivery_report_t *report = arg;
  gateway_t *gw = report->gw;
  pending_send_t *pending = id_table_take(gw->sends, report->request_id);
  if (pending && pending->state->socket && !chat_runtime_stopping(gw->rt)) {
    chat_sio_socket_t *socket = pending->state->socket;
    if (report->err == CHAT_OK) {
      /* Kafka's word is not persistence's: the socket joins the room only
       * when persistence says so (the join header of conversation_created),
       * never here (docs/architecture.md, "Who joins a room"). */
      bson_string_t *fields = bson_string_new("\"clientMsgId\":");
      chat_json_append_string(fields, pending->client_msg_id, strlen(pending->client_msg_id));
      bson_string_append_printf(fields, ",\"status\":\"accepted\",\"conversationId\":\"%s\"",
                                pending->conversation_id);
      bson_string_t *event = bson_string_new("[\"message_ack\",{");
      bson_string_append_printf(event, "%s}]", fields->str);
      chat_sio_emit(socket, event->str, NULL, 0);
      gateway_ack_ok(socket, pending->ack_id, fields->str);
      bson_string_free(event, true);
      bson_string_free(fields, true);
    } else {
      gateway_ack_error(socket, pending->ack_id, CHAT_ERR_UNAVAILABLE,
                        "Kafka did not accept the message; send it again with the same "
                        "clientMsgId");
    }
  }
  if (pending) {
    gateway_socket_release(pending->state);
    free(pending);
  }
  free(report);
}

void gateway_on_delivery(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                         int32_t partition, int64_t offset) {
  (void)partition, (void)offset;
  gateway_t *gw = ctx;
  if (request_id == 0 || !gw->sio)
    return; /* not a send_message (typing, commands of REST calls) */
  if (err != CHAT_OK)
    CHAT_LOG(CHAT_LOG_WARN, "message.send %llu not delivered: %s", (unsigned long long)request_id,
             errstr ? errstr : "");
  delivery_report_t *report = malloc(sizeof *report);
  if (!report)
    return; /* the client times out and resends */
  *report = (delivery_report_t){gw, request_id, err};
  if (chat_sio_server_post(gw->sio, report_on_loop, report) != CHAT_OK)
    free(report);
}

static void free_pending(void *value) {
  pending_send_t *pending = value;
  gateway_socket_release(pending->state);
  free(pending);
}

void gateway_sends_discard(gateway_t *gw) { id_table_destroy(&gw->sends, free_pending); }
