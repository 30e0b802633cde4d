/* JSON-lines logging: one JSON object per line on stderr, e.g.
 *   {"ts":"2026-11-23T04:36:16.123Z","level":"info","service":"gateway",
 *    "instance":"gw-1","msg":"listening","src":"main.c:42"}
 * Lines are written with one write(2) so threads never interleave. */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

#include <stdbool.h>

typedef enum chat_log_level {
  CHAT_LOG_DEBUG = 0,
  CHAT_LOG_INFO = 1,
  CHAT_LOG_WARN = 2,
  CHAT_LOG_ERROR = 3,
} chat_log_level_t;

/* Sets the service and instance names put on every line (copied; NULL keeps
 * the current value) and the minimum level written. */
void chat_log_init(const char *service, const char *instance, chat_log_level_t level);

/* Returns true when a line at level would be written. */
bool chat_log_enabled(chat_log_level_t level);

/* Parses "debug", "info", "warn" or "error". Returns false for anything else
 * and leaves *out untouched. */
bool chat_log_level_parse(const char *text, chat_log_level_t *out);

/* Writes one line; use CHAT_LOG, which skips the arguments when the level is
 * off. A message longer than about 3 KiB is cut. */
void chat_log_write(chat_log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHAT_LOG(level, ...)                                                                       \
  do {                                                                                             \
    if (chat_log_enabled(level))                                                                   \
      chat_log_write((level), __FILE__, __LINE__, __VA_ARGS__);                                    \
  } while (0)

/* Logs the failed expression with file and line, then aborts. For
 * invariants of our own code, never for input from the network. */
#define CHAT_ASSERT(expr)                                                                          \
  do {                                                                                             \
    if (!(expr))                                                                                   \
      chat_log_assert_failed(#expr, __FILE__, __LINE__);                                           \
  } while (0)

_Noreturn void chat_log_assert_failed(const char *expr, const char *file, int line);

/* Installs handlers for the fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGTRAP): each writes one line at level "fatal" with the
 * signal's name, the faulting address and a backtrace, e.g.
 *   {"ts":...,"level":"fatal","service":"gateway","instance":"gw-1",
 *    "msg":"fatal signal SIGSEGV","signal":"SIGSEGV","addr":"0x0",
 *    "backtrace":["chat-gateway+0x1b2c4 gateway_handle_http+0x4c",...]}
 * then lets the signal kill the process as it would have (a core dump
 * where those are on). Each frame is a module and offset for addr2line,
 * and the function's name where the dynamic symbol table has it (services
 * link with -rdynamic).
 * Call once, early, from the main thread (which gets an alternate stack,
 * so a stack overflow is reported too). */
void chat_log_install_crash_report(void);

#endif
