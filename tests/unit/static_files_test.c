/* The web client's files: only plain names under the root are served;
 * "..", hidden files, encoded bytes, NUL, directories and symlinks are not. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_files.h"

static bool named(const char *uri, const char *want) {
  char out[STATIC_PATH_MAX];
  return static_files_name(uri, out, sizeof out) && strcmp(out, want) == 0;
}

static bool refused(const char *uri) {
  char out[STATIC_PATH_MAX];
  return !static_files_name(uri, out, sizeof out);
}

Test(static_files, plain_names_map_under_the_root) {
  cr_assert(named("/", "index.html"));
  cr_assert(named("/app.js", "app.js"));
  cr_assert(named("/img/logo-1_x.png", "img/logo-1_x.png"));
}

Test(static_files, traversal_and_odd_names_are_refused) {
  const char *uris[] = {"/..",          "/../etc/passwd", "/a/../../x",  "/./app.js",
                        "/.env",        "/img/.hidden",   "//etc/passwd", "/img/",
                        "/%2e%2e/x",    "/app.js%00.txt", "/a\\b",        "app.js",
                        "/a b",         "/a?b",           ""};
  for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++)
    cr_assert(refused(uris[i]), "%s must be refused", uris[i]);
  char long_uri[STATIC_PATH_MAX + 8];
  memset(long_uri, 'a', sizeof long_uri - 1);
  long_uri[0] = '/';
  long_uri[sizeof long_uri - 1] = '\0';
  cr_assert(refused(long_uri));
}

Test(static_files, content_types_by_extension) {
  cr_assert_str_eq(static_files_type("index.html"), "text/html; charset=UTF-8");
  cr_assert_str_eq(static_files_type("app.js"), "text/javascript; charset=UTF-8");
  cr_assert_str_eq(static_files_type("style.css"), "text/css; charset=UTF-8");
  cr_assert_str_eq(static_files_type("a.png"), "image/png");
  cr_assert_str_eq(static_files_type("LICENSE"), "application/octet-stream");
}

Test(static_files, reads_files_whole_and_nothing_else) {
  char root[] = "/tmp/static_files_test_XXXXXX";
  cr_assert_not_null(mkdtemp(root));
  char path[512];
  snprintf(path, sizeof path, "%s/a.png", root);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fwrite("\x89PNG\0\1\2", 1, 7, f); /* a NUL inside: read whole anyway */
  fclose(f);
  snprintf(path, sizeof path, "%s/dir", root);
  cr_assert_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/link.html", root);
  cr_assert_eq(symlink("/etc/passwd", path), 0);

  bson_string_t *body;
  const char *type;
  cr_assert_eq(static_files_read(root, "/a.png", 1024, &body, &type), CHAT_OK);
  cr_assert_eq(body->len, 7);
  cr_assert_eq(memcmp(body->str, "\x89PNG\0\1\2", 7), 0);
  cr_assert_str_eq(type, "image/png");
  bson_string_free(body, true);
  cr_assert_eq(static_files_read(root, "/a.png", 6, &body, &type), CHAT_ERR_TOO_LARGE);
  cr_assert_null(body);
  cr_assert_eq(static_files_read(root, "/missing.js", 1024, &body, &type), CHAT_ERR_NOT_FOUND);
  cr_assert_eq(static_files_read(root, "/dir", 1024, &body, &type), CHAT_ERR_NOT_FOUND);
  cr_assert_eq(static_files_read(root, "/link.html", 1024, &body, &type), CHAT_ERR_NOT_FOUND,
               "a symlink is not followed");
  cr_assert_eq(static_files_read(root, "/../etc/passwd", 1 << 20, &body, &type), CHAT_ERR_NOT_FOUND);

  unlink(path);
  snprintf(path, sizeof path, "%s/dir", root);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a.png", root);
  unlink(path);
  rmdir(root);
}
