/* One error enum for the whole project (0 = OK) and its strings.
 *
 * The X-macro keeps the enum, the machine-readable names sent to clients
 * (error.code in acks and REST bodies) and the human messages in one table,
 * as Mosquitto's mosq_err_t and libuv's UV_ERRNO_MAP do. */
#ifndef CHAT_ERR_H
#define CHAT_ERR_H

/* X(ENUM_SUFFIX, "CODE", "message") */
#define CHAT_ERR_MAP(X)                                                                            \
  X(OK, "OK", "success")                                                                           \
  X(NOMEM, "NO_MEMORY", "out of memory")                                                           \
  X(INVALID, "INVALID_ARGUMENT", "invalid argument")                                               \
  X(CONFIG, "BAD_CONFIG", "invalid configuration")                                                 \
  X(JSON, "BAD_JSON", "malformed JSON")                                                            \
  X(SCHEMA, "BAD_PAYLOAD", "payload does not match its schema")                                    \
  X(TOO_LARGE, "TOO_LARGE", "payload too large")                                                   \
  X(VERSION, "UNSUPPORTED_VERSION", "unsupported envelope version")                                \
  X(UNKNOWN_EVENT, "UNKNOWN_EVENT", "unknown event type")                                          \
  X(NOT_FOUND, "NOT_FOUND", "not found")                                                           \
  X(DUPLICATE, "DUPLICATE", "already exists")                                                      \
  X(CONFLICT, "CONFLICT", "changed concurrently; try again")                                       \
  X(UNAUTHORIZED, "UNAUTHORIZED", "not authenticated")                                             \
  X(FORBIDDEN, "FORBIDDEN", "not allowed")                                                         \
  X(RATE_LIMITED, "RATE_LIMITED", "too many requests")                                             \
  X(TIMEOUT, "TIMEOUT", "timed out")                                                               \
  X(UNAVAILABLE, "UNAVAILABLE", "dependency unavailable")                                          \
  X(KAFKA, "KAFKA_ERROR", "Kafka error")                                                           \
  X(MONGO, "MONGO_ERROR", "MongoDB error")                                                         \
  X(IO, "IO_ERROR", "input/output error")                                                          \
  X(STOPPED, "STOPPED", "shutting down")                                                           \
  X(INTERNAL, "INTERNAL", "internal error")

typedef enum chat_err {
#define CHAT_ERR_ENUM_(name, code, msg) CHAT_ERR_##name,
  CHAT_ERR_MAP(CHAT_ERR_ENUM_)
#undef CHAT_ERR_ENUM_
      CHAT_ERR_COUNT_ /* not an error: the number of codes */
} chat_err_t;

#define CHAT_OK CHAT_ERR_OK

/* Returns a static, human-readable message for err ("unknown error" for a
 * value outside the enum). Never NULL, never to be freed. */
const char *chat_strerror(chat_err_t err);

/* Returns the static machine-readable code for err, e.g. "NOT_FOUND", as put
 * in error.code of client acks and REST bodies ("UNKNOWN" outside the enum). */
const char *chat_err_code(chat_err_t err);

#endif
