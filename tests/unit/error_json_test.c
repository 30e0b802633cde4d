/* The error body (chat/error_json.h), byte for byte, in its three forms. */
#include <criterion/criterion.h>

#include "chat/err.h"
#include "chat/error_json.h"

static void written_as(void (*writer)(bson_string_t *, const char *, const char *),
                       const char *code, const char *message, const char *expected) {
  bson_string_t *out = bson_string_new(NULL);
  writer(out, code, message);
  cr_assert_str_eq(out->str, expected);
  bson_string_free(out, true);
}

Test(error_json, the_object) {
  written_as(chat_error_json, chat_err_code(CHAT_ERR_SCHEMA), "content is required",
             "{\"code\":\"BAD_PAYLOAD\",\"message\":\"content is required\"}");
}

Test(error_json, a_command_result_or_an_ack) {
  written_as(chat_error_reply_json, chat_err_code(CHAT_ERR_DUPLICATE), "username is taken",
             "{\"ok\":false,\"error\":{\"code\":\"DUPLICATE\",\"message\":\"username is taken\"}}");
}

Test(error_json, a_rest_answer) {
  written_as(chat_error_rest_json, chat_err_code(CHAT_ERR_FORBIDDEN), "not a member",
             "{\"success\":false,\"error\":{\"code\":\"FORBIDDEN\",\"message\":\"not a member\"}}");
}

Test(error_json, both_are_escaped) {
  written_as(chat_error_json, "A\"B", "line\none \\ \"two\"",
             "{\"code\":\"A\\\"B\",\"message\":\"line\\none \\\\ \\\"two\\\"\"}");
}
