/* The broadcast route's pure parts: the target names every service builds
 * and the gateway's rooms are named by, and the scope filter of delivery. */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/broadcast.h"

Test(broadcast, targets_are_kind_colon_id) {
  char out[CHAT_TARGET_MAX];
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_ROOM, "abc"), "room:abc");
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_USER, "u1"), "user:u1");
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_CONTACTS, "u1"), "contacts:u1");
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_GATEWAY, "gw-1"), "gateway:gw-1");
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_GUEST, "lobby"), "guest:lobby");
  cr_assert_str_eq(chat_target(out, sizeof out, CHAT_TARGET_CONN, "gw-1/s1"), "conn:gw-1/s1");
  cr_assert_str_eq(chat_target_conn(out, sizeof out, "gw-1", "s1"), "conn:gw-1/s1");
  cr_assert_str_eq(chat_target_conn(out, sizeof out, "gw-1", ""), "conn:gw-1/");
}

Test(broadcast, a_target_cut_short_says_so) {
  char out[8];
  cr_assert_null(chat_target(out, sizeof out, CHAT_TARGET_ROOM, "0123456789"));
  cr_assert_eq(strlen(out), 7);
  cr_assert_null(chat_target_conn(out, sizeof out, "gateway", "socket"));
  cr_assert_not_null(chat_target(out, sizeof out, CHAT_TARGET_ROOM, "ab"));
}

Test(broadcast, the_id_of_a_target_of_its_kind) {
  cr_assert_str_eq(chat_target_id("room:abc", CHAT_TARGET_ROOM), "abc");
  cr_assert_str_eq(chat_target_id("contacts:u1", CHAT_TARGET_CONTACTS), "u1");
  cr_assert_str_eq(chat_target_id("gateway:", CHAT_TARGET_GATEWAY), "");
  cr_assert_null(chat_target_id("user:abc", CHAT_TARGET_ROOM));
  cr_assert_null(chat_target_id("room", CHAT_TARGET_ROOM));
  cr_assert_null(chat_target_id("rooms:abc", CHAT_TARGET_ROOM));
}

Test(broadcast, scope_is_all_open_or_closed) {
  chat_broadcast_scope_t scope = CHAT_BROADCAST_SCOPE_OPEN;
  cr_assert(chat_broadcast_scope_parse(NULL, &scope));
  cr_assert_eq(scope, CHAT_BROADCAST_SCOPE_ALL);
  cr_assert(chat_broadcast_scope_parse("open", &scope));
  cr_assert_eq(scope, CHAT_BROADCAST_SCOPE_OPEN);
  cr_assert(chat_broadcast_scope_parse("closed", &scope));
  cr_assert_eq(scope, CHAT_BROADCAST_SCOPE_CLOSED);
  cr_assert_not(chat_broadcast_scope_parse("Open", &scope));
  cr_assert_not(chat_broadcast_scope_parse("", &scope));
  cr_assert_not(chat_broadcast_scope_parse("all", &scope));
}

Test(broadcast, the_scope_filter_of_delivery) {
  cr_assert(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_ALL, true));
  cr_assert(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_ALL, false));
  cr_assert(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_OPEN, true));
  cr_assert_not(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_OPEN, false));
  cr_assert_not(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_CLOSED, true));
  cr_assert(chat_broadcast_scope_admits(CHAT_BROADCAST_SCOPE_CLOSED, false));
}

Test(broadcast, the_frame_is_the_event_then_the_value_then_the_last_argument) {
  bson_string_t *plain = chat_broadcast_frame("new_message", "{\"a\":1}", 7, NULL);
  cr_assert_str_eq(plain->str, "[\"new_message\",{\"a\":1}]");
  bson_string_t *with = chat_broadcast_frame("new_message", "{\"a\":1}xyz", 7, "\"off\"");
  cr_assert_str_eq(with->str, "[\"new_message\",{\"a\":1},\"off\"]", "value_len bounds the value");
  bson_string_free(plain, true);
  bson_string_free(with, true);
}
