#include "lws_log.h"

#include <libwebsockets.h>
#include <string.h>

#include "chat/log.h"

void chat_sio_lws_log(int level, const char *line) {
  chat_log_level_t ours = level & LLL_ERR    ? CHAT_LOG_ERROR
                          : level & LLL_WARN ? CHAT_LOG_WARN
                          : level & (LLL_NOTICE | LLL_INFO) ? CHAT_LOG_INFO
                                                            : CHAT_LOG_DEBUG;
  if (!chat_log_enabled(ours))
    return;
  /* lws starts each line with its own "[2026/12/01 09:41:07:1234] E: ";
   * ours carry their own time and level. */
  if (line[0] == '[') {
    const char *end = strstr(line, "] ");
    if (end) {
      line = end + 2;
      if (line[0] && line[1] == ':' && line[2] == ' ')
        line += 3;
    }
  }
  size_t len = strlen(line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  chat_log_write(ours, __FILE__, __LINE__, "libwebsockets: %.*s", (int)len, line);
}
