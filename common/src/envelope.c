#include "chat/envelope.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat/json.h"

static bool is_event_type(const char *type) {
  if (!type[0])
    return false;
  for (const char *p = type; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
      return false;
  }
  return true;
}

static bool is_object_id(const char *id, size_t len) {
  if (len != CHAT_ENVELOPE_ID_LEN)
    return false;
  for (size_t i = 0; i < len; i++) {
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  }
  return true;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool copy_string(char *dst, size_t cap, const char *src, size_t len) {
  if (len >= cap || memchr(src, '\0', len))
    return false;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return true;
}

chat_err_t chat_envelope_init(chat_envelope_t *env, const char *type, const char *source,
                              const char *correlation_id) {
  bson_oid_t oid;
  memset(env, 0, sizeof *env);
  if (!copy_string(env->type, sizeof env->type, type, strlen(type)) || !is_event_type(type) ||
      !copy_string(env->source, sizeof env->source, source, strlen(source)) ||
      (correlation_id && !copy_string(env->correlation_id, sizeof env->correlation_id,
                                      correlation_id, strlen(correlation_id))))
    return CHAT_ERR_INVALID;
  env->version = CHAT_ENVELOPE_VERSION;
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, env->id);
  env->ts = now_ms();
  bson_init(&env->payload);
  return CHAT_OK;
}

#define FAIL(code, ...)                                                                            \
  do {                                                                                             \
    if (errbuf)                                                                                    \
      snprintf(errbuf, errbuf_len, __VA_ARGS__);                                                   \
    err = (code);                                                                                  \
    goto out;                                                                                      \
  } while (0)

chat_err_t chat_envelope_decode(const char *value, size_t len, size_t max_len, chat_envelope_t *env,
                                char *errbuf, size_t errbuf_len) {
  bson_t doc;
  bson_iter_t it;
  chat_err_t err = chat_json_parse(value, len, max_len, &doc, errbuf, errbuf_len);
  bool have_v = false, have_ts = false;
  const uint8_t *payload_data = NULL; /* points into doc until copied */
  uint32_t payload_len = 0;
  if (err != CHAT_OK)
    return err;
  memset(env, 0, sizeof *env);

  bson_iter_init(&it, &doc);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bson_type_t type = bson_iter_type(&it);
    uint32_t slen = 0;
    const char *str = type == BSON_TYPE_UTF8 ? bson_iter_utf8(&it, &slen) : NULL;

    if (strcmp(key, "v") == 0) {
      if (type != BSON_TYPE_INT32)
        FAIL(CHAT_ERR_SCHEMA, "envelope field v must be an integer");
      env->version = bson_iter_int32(&it);
      have_v = true;
    } else if (strcmp(key, "type") == 0) {
      if (!str || !copy_string(env->type, sizeof env->type, str, slen) || !is_event_type(env->type))
        FAIL(CHAT_ERR_SCHEMA, "envelope field type must be a string of [a-z0-9._], at most %d",
             CHAT_ENVELOPE_TYPE_MAX - 1);
    } else if (strcmp(key, "id") == 0) {
      if (!str || !is_object_id(str, slen))
        FAIL(CHAT_ERR_SCHEMA, "envelope field id must be 24 lowercase hex digits");
      memcpy(env->id, str, slen + 1);
    } else if (strcmp(key, "ts") == 0) {
      if (type != BSON_TYPE_INT32 && type != BSON_TYPE_INT64)
        FAIL(CHAT_ERR_SCHEMA, "envelope field ts must be an integer (ms since the epoch)");
      env->ts = bson_iter_as_int64(&it);
      have_ts = env->ts >= 0;
    } else if (strcmp(key, "source") == 0) {
      if (!str || slen == 0 || !copy_string(env->source, sizeof env->source, str, slen))
        FAIL(CHAT_ERR_SCHEMA, "envelope field source must be a non-empty string, at most %d",
             CHAT_ENVELOPE_SOURCE_MAX - 1);
    } else if (strcmp(key, "correlationId") == 0) {
      if (!str || slen == 0 ||
          !copy_string(env->correlation_id, sizeof env->correlation_id, str, slen))
        FAIL(CHAT_ERR_SCHEMA, "envelope field correlationId must be a non-empty string");
    } else if (strcmp(key, "payload") == 0) {
      if (type != BSON_TYPE_DOCUMENT)
        FAIL(CHAT_ERR_SCHEMA, "envelope field payload must be an object");
      bson_iter_document(&it, &payload_len, &payload_data);
    }
  }
  if (!have_v)
    FAIL(CHAT_ERR_SCHEMA, "envelope field v is missing");
  if (env->version != CHAT_ENVELOPE_VERSION)
    FAIL(CHAT_ERR_VERSION, "envelope version %d is not supported (this build reads %d)",
         env->version, CHAT_ENVELOPE_VERSION);
  if (!env->type[0] || !env->id[0] || !have_ts || !env->source[0] || !payload_data)
    FAIL(CHAT_ERR_SCHEMA, "envelope is missing one of type, id, ts, source, payload");

  bson_t payload_view;
  if (!bson_init_static(&payload_view, payload_data, payload_len))
    FAIL(CHAT_ERR_SCHEMA, "envelope field payload is not a valid document");
  bson_copy_to(&payload_view, &env->payload); /* storage of its own, doc goes */
  err = CHAT_OK;
out:
  bson_destroy(&doc);
  if (err != CHAT_OK)
    memset(env, 0, sizeof *env);
  return err;
}

chat_err_t chat_envelope_encode(const chat_envelope_t *env, bson_string_t *out) {
  bson_string_append_printf(out, "{\"v\":%d,\"type\":", env->version);
  chat_json_append_string(out, env->type, strlen(env->type));
  bson_string_append_printf(out, ",\"id\":\"%s\",\"ts\":%lld,\"source\":", env->id,
                            (long long)env->ts);
  chat_json_append_string(out, env->source, strlen(env->source));
  if (env->correlation_id[0]) {
    bson_string_append(out, ",\"correlationId\":");
    chat_json_append_string(out, env->correlation_id, strlen(env->correlation_id));
  }
  bson_string_append(out, ",\"payload\":");
  chat_err_t err = chat_json_append(out, &env->payload, false);
  bson_string_append_c(out, '}');
  return err;
}

void chat_envelope_cleanup(chat_envelope_t *env) {
  if (!env || !env->type[0])
    return;
  bson_destroy(&env->payload);
  env->type[0] = '\0';
}

const char *chat_envelope_string(const chat_envelope_t *env, const char *key, uint32_t *len) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &env->payload, key) || !BSON_ITER_HOLDS_UTF8(&it))
    return NULL;
  return bson_iter_utf8(&it, len);
}
