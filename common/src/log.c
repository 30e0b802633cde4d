#include "chat/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/json.h"

#define LOG_NAME_MAX 64      /* longest service or instance name kept */
#define LOG_MESSAGE_MAX 3072 /* longest formatted message before escaping */
#define LOG_LINE_MAX 8192    /* one line, with every field escaped */

static _Atomic int min_level = CHAT_LOG_INFO;
static char service_name[LOG_NAME_MAX] = "chat";
static char instance_name[LOG_NAME_MAX] = "";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void chat_log_init(const char *service, const char *instance, chat_log_level_t level) {
  if (service)
    snprintf(service_name, sizeof service_name, "%s", service);
  if (instance)
    snprintf(instance_name, sizeof instance_name, "%s", instance);
  atomic_store(&min_level, (int)level);
}

bool chat_log_enabled(chat_log_level_t level) { return (int)level >= atomic_load(&min_level); }

bool chat_log_level_parse(const char *text, chat_log_level_t *out) {
  for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (chat_log_level_t)i;
      return true;
    }
  }
  return false;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static void write_line(chat_log_level_t level, const char *file, int line, const char *message) {
  char line_buf[LOG_LINE_MAX];
  char escaped[LOG_MESSAGE_MAX * 2];
  char src[128];
  struct timespec now;
  struct tm utc;

  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &utc);
  chat_json_escape_into(escaped, sizeof escaped, message, strlen(message));
  snprintf(src, sizeof src, "%s:%d", base_name(file), line);

  int n = snprintf(line_buf, sizeof line_buf,
                   "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                   "\"service\":\"%s\",\"instance\":\"%s\",\"msg\":\"%s\",\"src\":\"%s\"}\n",
                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                   utc.tm_sec, now.tv_nsec / 1000000, level_names[level], service_name,
                   instance_name, escaped, src);
  /* The escaped message is at most LOG_MESSAGE_MAX * 2 bytes and the other
   * fields are short, so the line always fits in LOG_LINE_MAX. */
  if (n < 0 || (size_t)n >= sizeof line_buf)
    return;
  size_t len = (size_t)n;
  /* One write per line, so lines from several threads never interleave. */
  ssize_t ignored = write(STDERR_FILENO, line_buf, len);
  (void)ignored;
}

void chat_log_write(chat_log_level_t level, const char *file, int line, const char *fmt, ...) {
  char message[LOG_MESSAGE_MAX];
  va_list ap;
  if ((unsigned)level > CHAT_LOG_ERROR)
    level = CHAT_LOG_ERROR;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  write_line(level, file, line, message);
}

void chat_log_assert_failed(const char *expr, const char *file, int line) {
  char message[LOG_MESSAGE_MAX];
  snprintf(message, sizeof message, "assertion failed: %s", expr);
  write_line(CHAT_LOG_ERROR, file, line, message);
  abort();
}
