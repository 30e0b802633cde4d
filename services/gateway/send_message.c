#include "send_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/envelope.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "id_table.h"
#include "produce.h"
#include "send_request.h"
#include "socket_acks.h"

/* A send_message waiting for its delivery report; holds a reference on
 * the socket's state, which may have disconnected by then. */
typedef struct pending_send {
  gateway_socket_t *state;
  int64_t ack_id;
  char client_msg_id[CHAT_CLIENT_MSG_ID_MAX + 1];
  char conversation_id[CHAT_ID_SIZE];
} pending_send_t;

/* A delivery report on its way from the producer's thread to the loop. */
typedef struct delivery_report {
  gateway_t *gw;
  uint64_t request_id;
  chat_err_t err;
} delivery_report_t;

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
  if (!req.receiver_id[0] && !gateway_socket_in_conversation(state, req.conversation_id)) {
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
  pending->state = gateway_socket_hold(state);
  pending->ack_id = ack_id;
  memcpy(pending->client_msg_id, req.client_msg_id, sizeof pending->client_msg_id);
  memcpy(pending->conversation_id, req.conversation_id, sizeof pending->conversation_id);
  char connection_id[CHAT_CONFIG_STR_MAX + 64];
  gateway_socket_connection(state, cfg->instance_id, connection_id, sizeof connection_id);
  chat_envelope_t env;
  err = send_request_command(&req, state->user_id, chat_runtime_source(gw->rt), connection_id, NULL,
                             &env);
  if (err == CHAT_OK)
    err = gateway_produce(gw, CHAT_TOPIC_COMMANDS, &env, req.conversation_id, request_id);
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
