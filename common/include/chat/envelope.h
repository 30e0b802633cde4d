/* The versioned envelope of every record on chat.commands, chat.receipts,
 * chat.presence and chat.events (proto/envelope.schema.json):
 *   {"v":1,"type":"message.send","id":"<24 hex>","ts":<ms>,
 *    "source":"gateway/gw-1","correlationId":"...","payload":{...}}
 * encoded compact, keys in that order, correlationId omitted when empty.
 * chat.broadcast values are not enveloped (see proto/README.md). */
#ifndef CHAT_ENVELOPE_H
#define CHAT_ENVELOPE_H

#include <bson/bson.h>
#include <stdint.h>

#include "chat/err.h"

#define CHAT_ENVELOPE_VERSION 1      /* the only version this code reads and writes */
#define CHAT_ENVELOPE_TYPE_MAX 64    /* event type, with its NUL */
#define CHAT_ENVELOPE_ID_LEN 24      /* lowercase hex ObjectId */
#define CHAT_ENVELOPE_SOURCE_MAX 160 /* "<service>/<instance id>", with its NUL */
#define CHAT_ENVELOPE_CORRELATION_MAX 160

/* A plain value; payload is owned and freed by chat_envelope_cleanup(). */
typedef struct chat_envelope {
  int version;
  char type[CHAT_ENVELOPE_TYPE_MAX];
  char id[CHAT_ENVELOPE_ID_LEN + 1];
  int64_t ts; /* milliseconds since the Unix epoch */
  char source[CHAT_ENVELOPE_SOURCE_MAX];
  char correlation_id[CHAT_ENVELOPE_CORRELATION_MAX]; /* "" when absent */
  bson_t payload;
} chat_envelope_t;

/* Starts a new envelope with a fresh id, the current time, and an empty
 * payload for the caller to fill (BSON_APPEND_* on &env->payload).
 * correlation_id may be NULL. Returns CHAT_ERR_INVALID when type, source or
 * correlation_id is too long or type has characters other than [a-z0-9._]. */
chat_err_t chat_envelope_init(chat_envelope_t *env, const char *type, const char *source,
                              const char *correlation_id);

/* Decodes a record value of len bytes. On CHAT_OK *env holds a copy of
 * everything (cleanup required); on error nothing needs freeing and errbuf
 * (may be NULL) says what is wrong. Errors: CHAT_ERR_TOO_LARGE (len >
 * max_len), CHAT_ERR_JSON, CHAT_ERR_SCHEMA (a field missing or of the wrong
 * type or form), CHAT_ERR_VERSION (v is not CHAT_ENVELOPE_VERSION). Unknown
 * top-level keys are ignored, for forward compatibility. */
chat_err_t chat_envelope_decode(const char *value, size_t len, size_t max_len, chat_envelope_t *env,
                                char *errbuf, size_t errbuf_len);

/* Appends the canonical encoding of env to out. Returns CHAT_OK or
 * CHAT_ERR_INVALID when the payload holds a type JSON cannot carry. */
chat_err_t chat_envelope_encode(const chat_envelope_t *env, bson_string_t *out);

/* The string payload[key] of env (its length in *len when len is not
 * NULL), or NULL when it is absent or not a string. A view into env. */
const char *chat_envelope_string(const chat_envelope_t *env, const char *key, uint32_t *len);

/* Frees the payload; accepts NULL and may be called twice. */
void chat_envelope_cleanup(chat_envelope_t *env);

#endif
