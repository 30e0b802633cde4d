/* Reads a whole file of the source tree for a unit test; fails the test
 * when it cannot. The caller frees the NUL-terminated result. */
#ifndef CHAT_TEST_FIXTURE_FILE_H
#define CHAT_TEST_FIXTURE_FILE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static inline char *fixture_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
  buf[size] = '\0';
  fclose(f);
  *len = (size_t)size;
  return buf;
}

#endif
