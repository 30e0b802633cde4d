/* Seed 002's replied.in.24hr.first rule (services/persistence/reply_window.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "reply_window.h"

#define A "65f1a0c2e4b0a1b2c3d4e5f6"
#define B "65f1a0c2e4b0a1b2c3d4e5f7"
#define HOUR (3600LL * 1000)

static const char *id(int n) {
  static char ids[16][CHAT_ID_SIZE];
  snprintf(ids[n], CHAT_ID_SIZE, "65f1a1aae4b0a1b2c3d4e7%02d", n);
  return ids[n];
}

Test(reply_window, a_reply_within_24_hours_earns_it_once) {
  awaiting_t w[2] = {0};
  replied_first_t r;
  cr_assert(reply_window_track(w, A, id(1), 0, &r));
  cr_assert_str_empty(r.original_sender);
  reply_window_track(w, A, id(2), 1 * HOUR, &r); /* A again: the window stays at A's first */
  cr_assert_str_empty(r.original_sender);
  reply_window_track(w, B, id(3), 23 * HOUR, &r);
  cr_assert_str_eq(r.original_sender, A);
  cr_assert_str_eq(r.original_message, id(1));
  cr_assert_eq(r.original_at, 0);
  reply_window_track(w, B, id(4), 23 * HOUR + 1, &r); /* B again: nothing more */
  cr_assert_str_empty(r.original_sender);
}

Test(reply_window, a_late_reply_earns_nothing_and_closes_the_window) {
  awaiting_t w[2] = {0};
  replied_first_t r;
  reply_window_track(w, A, id(1), 0, &r);
  reply_window_track(w, B, id(2), 24 * HOUR + 1, &r);
  cr_assert_str_empty(r.original_sender);
  reply_window_track(w, B, id(3), 24 * HOUR + 2, &r);
  cr_assert_str_empty(r.original_sender);
}

Test(reply_window, exactly_24_hours_still_counts) {
  awaiting_t w[2] = {0};
  replied_first_t r;
  reply_window_track(w, A, id(1), 0, &r);
  reply_window_track(w, B, id(2), 24 * HOUR, &r);
  cr_assert_str_eq(r.original_sender, A);
}

Test(reply_window, spamming_earns_nothing) {
  awaiting_t w[2] = {0};
  replied_first_t r;
  for (int i = 0; i < 10; i++) {
    reply_window_track(w, A, id(i), i * HOUR, &r);
    cr_assert_str_empty(r.original_sender);
  }
}

Test(reply_window, each_side_can_earn_it_in_turn) {
  awaiting_t w[2] = {0};
  replied_first_t r;
  reply_window_track(w, A, id(1), 0, &r);
  reply_window_track(w, B, id(2), 1 * HOUR, &r); /* B answers A, and now waits for A */
  cr_assert_str_eq(r.original_sender, A);
  reply_window_track(w, A, id(3), 2 * HOUR, &r);
  cr_assert_str_eq(r.original_sender, B);
  cr_assert_str_eq(r.original_message, id(2));
}
