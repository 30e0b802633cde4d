/* The offset and pid of connection state recovery (recovery_token.h):
 * what is written is read back, and nothing else is: other keys, changed
 * bytes, one kind for the other, cut or padded strings. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "recovery_token.h"

static uint8_t key[RECOVERY_KEY_SIZE], other_key[RECOVERY_KEY_SIZE];
static char text[RECOVERY_TOKEN_MAX];

static void setup(void) {
  cr_assert_geq(sodium_init(), 0);
  recovery_key_derive("a shared secret of the gateways 0123456789", key);
  recovery_key_derive("another secret of other gateways 0123456789", other_key);
}

TestSuite(recovery_token, .init = setup);

static recovery_position_t position_of(size_t partitions, int64_t base) {
  recovery_position_t p = {.partitions = partitions};
  for (size_t i = 0; i < partitions; i++)
    p.next[i] = base + (int64_t)(i * 1000003);
  return p;
}

Test(recovery_token, an_offset_reads_back) {
  const size_t sizes[] = {0, 1, 8, RECOVERY_PARTITIONS_MAX};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    recovery_position_t in = position_of(sizes[s], (int64_t)1 << 40), out;
    int64_t at = 0;
    size_t len = recovery_offset_write(key, &in, 1764590000, text, sizeof text);
    cr_assert_gt(len, 0);
    cr_assert_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                 len, "base64url only: %s", text);
    cr_assert(recovery_offset_read(key, text, &out, &at));
    cr_assert_eq(at, 1764590000);
    cr_assert_eq(out.partitions, in.partitions);
    cr_assert_arr_eq(out.next, in.next, in.partitions * sizeof in.next[0]);
  }
}

Test(recovery_token, eight_partitions_make_a_short_offset) {
  recovery_position_t in = position_of(8, 1234567);
  cr_assert_lt(recovery_offset_write(key, &in, 1764590000, text, sizeof text), 80);
}

Test(recovery_token, a_pid_reads_back) {
  recovery_session_t in = {.user_id = "65f1a0c2e4b0a1b2c3d4e5aa", .issued_s = 1764590001,
                           .nonce = {1, 2, 3, 4, 5, 6, 7, 8},
                           .socket_id = "AbCdEfGhIjKlMnOpQr-_", .start = position_of(4, 99)},
                     out;
  cr_assert_gt(recovery_pid_write(key, &in, text, sizeof text), 0);
  cr_assert(recovery_pid_read(key, text, &out));
  cr_assert_str_eq(out.user_id, in.user_id);
  cr_assert_eq(out.issued_s, in.issued_s);
  cr_assert_arr_eq(out.nonce, in.nonce, sizeof in.nonce);
  cr_assert_str_eq(out.socket_id, in.socket_id);
  cr_assert_eq(out.start.partitions, 4);
  cr_assert_arr_eq(out.start.next, in.start.next, 4 * sizeof in.start.next[0]);
}

Test(recovery_token, a_pid_needs_a_user_id_and_a_socket_id) {
  recovery_session_t in = {.user_id = "admin", .socket_id = "AbCdEfGhIjKlMnOpQr-_"};
  cr_assert_eq(recovery_pid_write(key, &in, text, sizeof text), 0);
  recovery_session_t short_id = {.user_id = "65f1a0c2e4b0a1b2c3d4e5aa", .socket_id = "abc"};
  cr_assert_eq(recovery_pid_write(key, &short_id, text, sizeof text), 0);
}

Test(recovery_token, nothing_else_reads) {
  recovery_position_t p = position_of(8, 5), out;
  recovery_session_t s = {.user_id = "65f1a0c2e4b0a1b2c3d4e5aa",
                          .socket_id = "AbCdEfGhIjKlMnOpQr-_", .start = p},
                     session;
  int64_t at;
  char offset[RECOVERY_TOKEN_MAX], pid[RECOVERY_TOKEN_MAX];
  cr_assert_gt(recovery_offset_write(key, &p, 10, offset, sizeof offset), 0);
  cr_assert_gt(recovery_pid_write(key, &s, pid, sizeof pid), 0);
  cr_assert_not(recovery_offset_read(other_key, offset, &out, &at), "another key");
  cr_assert_not(recovery_pid_read(other_key, pid, &session), "another key");
  cr_assert_not(recovery_offset_read(key, pid, &out, &at), "a pid is no offset");
  cr_assert_not(recovery_pid_read(key, offset, &session), "an offset is no pid");
  /* Every byte changed, one at a time, and every cut. */
  size_t len = strlen(offset);
  for (size_t i = 0; i < len; i++) {
    char changed[RECOVERY_TOKEN_MAX];
    memcpy(changed, offset, len + 1);
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    cr_assert_not(recovery_offset_read(key, changed, &out, &at), "byte %zu changed", i);
    changed[i] = '\0';
    memcpy(changed, offset, i);
    cr_assert_not(recovery_offset_read(key, changed, &out, &at), "cut at %zu", i);
  }
  char padded[RECOVERY_TOKEN_MAX + 2];
  snprintf(padded, sizeof padded, "%s=", offset);
  cr_assert_not(recovery_offset_read(key, padded, &out, &at));
  const char *junk[] = {"", "x", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
    cr_assert_not(recovery_offset_read(key, junk[i], &out, &at), "%s", junk[i]);
    cr_assert_not(recovery_pid_read(key, junk[i], &session), "%s", junk[i]);
  }
  cr_assert_not(recovery_offset_read(key, NULL, &out, &at));
}
