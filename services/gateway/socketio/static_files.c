/* The web client's files (static_files.h). The files are small (the whole
 * bundle is tens of kilobytes), so each answer reads its file whole and
 * goes out like any other HTTP answer of server.c: no file descriptors
 * held across writable callbacks, no partial-file state. */
#include "static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool static_files_name(const char *uri, char *out, size_t out_len) {
  if (uri[0] != '/')
    return false;
  const char *rest = uri + 1;
  if (!rest[0])
    rest = "index.html";
  size_t len = strlen(rest);
  if (len >= out_len || len >= STATIC_PATH_MAX)
    return false;
  /* Segment by segment: none empty, none starting with '.' (so neither
   * "." nor ".." nor hidden files), only name characters in each. */
  bool segment_start = true;
  for (size_t i = 0; i < len; i++) {
    char c = rest[i];
    if (c == '/') {
      if (segment_start)
        return false;
      segment_start = true;
      continue;
    }
    if (!name_char(c) || (segment_start && c == '.'))
      return false;
    segment_start = false;
  }
  if (segment_start) /* a trailing '/' names a directory */
    return false;
  memcpy(out, rest, len + 1);
  return true;
}

const char *static_files_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=UTF-8"},
      {".js", "text/javascript; charset=UTF-8"},
      {".css", "text/css; charset=UTF-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=UTF-8"},
      {".webmanifest", "application/manifest+json"},
  };
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  }
  return "application/octet-stream";
}

chat_err_t static_files_read(const char *root, const char *uri, size_t max_bytes,
                             bson_string_t **body, const char **type) {
  char name[STATIC_PATH_MAX], path[STATIC_PATH_MAX + 512];
  *body = NULL;
  if (!static_files_name(uri, name, sizeof name))
    return CHAT_ERR_NOT_FOUND;
  if (snprintf(path, sizeof path, "%s/%s", root, name) >= (int)sizeof path)
    return CHAT_ERR_NOT_FOUND;
  /* O_NOFOLLOW: a symlink planted in the root does not lead out of it. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return CHAT_ERR_NOT_FOUND;
  chat_err_t err = CHAT_ERR_NOT_FOUND;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    goto out;
  err = CHAT_ERR_TOO_LARGE;
  if ((size_t)st.st_size > max_bytes)
    goto out;
  /* Read straight into the string's own buffer: bson_string_append*()
   * stop at a NUL, and images have many. The size is the one fstat()
   * gave: a file that grows meanwhile is cut there. */
  size_t size = (size_t)st.st_size, got = 0;
  bson_string_t *text = bson_string_new(NULL);
  bson_free(text->str);
  text->str = bson_malloc(size + 1);
  text->alloc = (uint32_t)size + 1;
  while (got < size) {
    ssize_t n = read(fd, text->str + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  text->str[got] = '\0';
  text->len = (uint32_t)got;
  *body = text;
  *type = static_files_type(name);
  err = CHAT_OK;
out:
  close(fd);
  return err;
}
