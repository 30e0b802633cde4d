#include <criterion/criterion.h>
#include <string.h>

#include "chat/err.h"

Test(err, ok_is_zero) { cr_assert_eq(CHAT_OK, 0); }

Test(err, every_code_has_a_distinct_message_and_code) {
  for (int i = 0; i < CHAT_ERR_COUNT_; i++) {
    const char *msg = chat_strerror((chat_err_t)i);
    const char *code = chat_err_code((chat_err_t)i);
    cr_assert_neq(strcmp(msg, "unknown error"), 0, "code %d has no message", i);
    cr_assert_neq(strcmp(code, "UNKNOWN"), 0, "code %d has no code", i);
    for (int j = 0; j < i; j++) {
      cr_assert_neq(strcmp(msg, chat_strerror((chat_err_t)j)), 0, "%d and %d share '%s'", i, j,
                    msg);
      cr_assert_neq(strcmp(code, chat_err_code((chat_err_t)j)), 0, "%d and %d share '%s'", i, j,
                    code);
    }
  }
}

Test(err, known_strings) {
  cr_assert_str_eq(chat_strerror(CHAT_OK), "success");
  cr_assert_str_eq(chat_strerror(CHAT_ERR_NOT_FOUND), "not found");
  cr_assert_str_eq(chat_err_code(CHAT_ERR_FORBIDDEN), "FORBIDDEN");
  cr_assert_str_eq(chat_err_code(CHAT_ERR_TOO_LARGE), "TOO_LARGE");
}

Test(err, out_of_range_values) {
  cr_assert_str_eq(chat_strerror(CHAT_ERR_COUNT_), "unknown error");
  cr_assert_str_eq(chat_strerror((chat_err_t)-1), "unknown error");
  cr_assert_str_eq(chat_err_code((chat_err_t)9999), "UNKNOWN");
}
