/* The checks of a client's send (send_request_read), shared by the socket
 * event send_message and POST /api/chat/send, and the command it becomes. */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/json.h"
#include "send_request.h"

#define ALICE "aaaaaaaaaaaaaaaaaaaaaaaa"
#define BOB "bbbbbbbbbbbbbbbbbbbbbbbb"
#define GROUP "0123456789abcdef01234567"

static bson_t doc;

static void parse(const char *json) {
  char why[128];
  cr_assert_eq(chat_json_parse(json, strlen(json), 1 << 20, &doc, why, sizeof why), CHAT_OK, "%s",
               why);
}

static const char *read_json(const char *json, int max_content, send_request_t *req,
                             chat_err_t *err) {
  parse(json);
  return send_request_read(&doc, ALICE, max_content, req, err);
}

static void refused(const char *json, chat_err_t expected, const char *why_part) {
  send_request_t req;
  chat_err_t err;
  const char *why = read_json(json, 100, &req, &err);
  cr_assert_not_null(why, "accepted: %s", json);
  cr_assert_eq(err, expected, "%s: %s", json, why);
  cr_assert(strstr(why, why_part), "%s: %s", json, why);
  bson_destroy(&doc);
}

Test(send_request, a_group_send_is_read) {
  send_request_t req;
  chat_err_t err;
  cr_assert_null(read_json("{\"conversationId\":\"" GROUP "\",\"content\":\"hi\","
                           "\"clientMsgId\":\"c-1\",\"attachmentUrl\":null}",
                           100, &req, &err));
  cr_assert_eq(err, CHAT_OK);
  cr_assert_str_eq(req.conversation_id, GROUP);
  cr_assert_str_eq(req.receiver_id, "");
  cr_assert_str_eq(req.client_msg_id, "c-1");
  cr_assert_eq(req.content_len, 2);
  cr_assert(memcmp(req.content, "hi", 2) == 0);
  cr_assert_null(req.attachment_url);
  bson_destroy(&doc);
}

Test(send_request, a_first_direct_send_names_the_pair) {
  send_request_t req;
  chat_err_t err;
  char expected[CHAT_ID_SIZE];
  cr_assert(chat_direct_conversation_id(ALICE, BOB, expected));
  cr_assert_null(read_json("{\"receiverId\":\"" BOB "\",\"content\":\"x\","
                           "\"attachmentUrl\":\"https://example.com/a.png\"}",
                           100, &req, &err));
  cr_assert_str_eq(req.conversation_id, expected);
  cr_assert_str_eq(req.receiver_id, BOB);
  cr_assert_str_eq(req.attachment_url, "https://example.com/a.png");
  cr_assert_eq(strlen(req.client_msg_id), 24, "a generated id when the client sent none");
  bson_destroy(&doc);
}

Test(send_request, the_pair_and_a_conversation_id_must_agree) {
  refused("{\"receiverId\":\"" BOB "\",\"conversationId\":\"" GROUP "\",\"content\":\"x\"}",
          CHAT_ERR_INVALID, "not the direct conversation");
  refused("{\"receiverId\":\"" ALICE "\",\"content\":\"x\"}", CHAT_ERR_INVALID, "yourself");
}

Test(send_request, every_bad_field_is_refused_with_its_reason) {
  refused("{\"content\":\"x\"}", CHAT_ERR_INVALID, "conversationId or receiverId is required");
  refused("{\"conversationId\":\"nope\",\"content\":\"x\"}", CHAT_ERR_INVALID, "24 hex");
  refused("{\"receiverId\":7,\"content\":\"x\"}", CHAT_ERR_INVALID, "receiverId");
  refused("{\"conversationId\":\"" GROUP "\"}", CHAT_ERR_INVALID, "content is required");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"\"}", CHAT_ERR_INVALID, "empty");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"a\\u0000b\"}", CHAT_ERR_INVALID, "NUL");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"clientMsgId\":\"\"}",
          CHAT_ERR_INVALID, "clientMsgId");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"clientMsgId\":\"a\\nb\"}",
          CHAT_ERR_INVALID, "printable");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"attachmentUrl\":\"ftp://x\"}",
          CHAT_ERR_INVALID, "attachmentUrl");
  refused("{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"attachmentUrl\":5}",
          CHAT_ERR_INVALID, "attachmentUrl");
}

Test(send_request, the_limits_are_the_protocols) {
  char json[4096];
  char id[CHAT_CLIENT_MSG_ID_MAX + 2];
  memset(id, 'i', sizeof id - 1);
  id[sizeof id - 1] = '\0'; /* one byte over */
  snprintf(json, sizeof json,
           "{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"clientMsgId\":\"%s\"}", id);
  refused(json, CHAT_ERR_INVALID, "1 to 128");
  id[CHAT_CLIENT_MSG_ID_MAX] = '\0'; /* at the limit */
  snprintf(json, sizeof json,
           "{\"conversationId\":\"" GROUP "\",\"content\":\"x\",\"clientMsgId\":\"%s\"}", id);
  send_request_t req;
  chat_err_t err;
  cr_assert_null(read_json(json, 100, &req, &err));
  bson_destroy(&doc);
}

Test(send_request, content_over_the_limit_is_too_large) {
  send_request_t req;
  chat_err_t err;
  const char *why = read_json("{\"conversationId\":\"" GROUP "\",\"content\":\"0123456789\"}", 9,
                              &req, &err);
  cr_assert_not_null(why);
  cr_assert_eq(err, CHAT_ERR_TOO_LARGE);
  bson_destroy(&doc);
  cr_assert_null(read_json("{\"conversationId\":\"" GROUP "\",\"content\":\"0123456789\"}", 10,
                           &req, &err));
  bson_destroy(&doc);
}

Test(send_request, the_command_carries_what_was_read) {
  send_request_t req;
  chat_err_t err;
  chat_envelope_t env;
  cr_assert_null(read_json("{\"receiverId\":\"" BOB "\",\"content\":\"hi\",\"clientMsgId\":\"c\"}",
                           100, &req, &err));
  cr_assert_eq(send_request_command(&req, ALICE, "gateway/gw-1", "gw-1/s1", NULL, &env), CHAT_OK);
  cr_assert_str_eq(env.type, "message.send");
  bson_iter_t it;
  cr_assert(bson_iter_init_find(&it, &env.payload, "senderId"));
  cr_assert_str_eq(bson_iter_utf8(&it, NULL), ALICE);
  cr_assert(bson_iter_init_find(&it, &env.payload, "receiverId"));
  cr_assert(bson_iter_init_find(&it, &env.payload, "connectionId"));
  cr_assert_str_eq(bson_iter_utf8(&it, NULL), "gw-1/s1");
  cr_assert(bson_iter_init_find(&it, &env.payload, "attachmentUrl"));
  cr_assert(BSON_ITER_HOLDS_NULL(&it));
  chat_envelope_cleanup(&env);
  bson_destroy(&doc);
}
