/* The envelope codec against proto/'s test vectors: every vector decodes,
 * and re-encodes to the very same bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/envelope.h"
#include "chat/json.h"
#include "fixture_file.h"

#define VECTOR_DIR CHAT_SOURCE_DIR "/proto/vectors/"

static bool is_enveloped(const char *topic) { return strcmp(topic, "chat.broadcast") != 0; }

Test(envelope, every_proto_vector_roundtrips_byte_for_byte) {
  size_t index_len;
  char *index_text = fixture_read(VECTOR_DIR "index.json", &index_len);
  bson_t index;
  char why[512];
  cr_assert_eq(chat_json_parse(index_text, index_len, 1 << 22, &index, why, sizeof why), CHAT_OK,
               "index.json: %s", why);
  bson_iter_t root, entries;
  cr_assert(bson_iter_init(&root, &index));
  /* index.json is {"vectors": [...]} or a bare array wrapped by the parser. */
  cr_assert(bson_iter_find(&root, "vectors") && bson_iter_recurse(&root, &entries),
            "index.json has no vectors array");
  int checked = 0, enveloped = 0;
  while (bson_iter_next(&entries)) {
    bson_iter_t field;
    const char *file = NULL, *topic = NULL, *type = NULL;
    cr_assert(bson_iter_recurse(&entries, &field));
    while (bson_iter_next(&field)) {
      if (strcmp(bson_iter_key(&field), "file") == 0)
        file = bson_iter_utf8(&field, NULL);
      else if (strcmp(bson_iter_key(&field), "topic") == 0)
        topic = bson_iter_utf8(&field, NULL);
      else if (strcmp(bson_iter_key(&field), "type") == 0)
        type = bson_iter_utf8(&field, NULL);
    }
    cr_assert(file && topic && type, "vector %d lacks file, topic or type", checked);

    char path[512];
    size_t len;
    snprintf(path, sizeof path, VECTOR_DIR "%s", file);
    char *value = fixture_read(path, &len);
    cr_assert(len > 0 && value[len - 1] == '\n', "%s must end with one newline", file);
    value[--len] = '\0'; /* the newline is not part of the record value */

    bson_string_t *out = bson_string_new(NULL);
    if (is_enveloped(topic)) {
      chat_envelope_t env;
      cr_assert_eq(chat_envelope_decode(value, len, 1 << 20, &env, why, sizeof why), CHAT_OK,
                   "%s: %s", file, why);
      cr_assert_str_eq(env.type, type, "%s: type", file);
      cr_assert_eq(chat_envelope_encode(&env, out), CHAT_OK);
      chat_envelope_cleanup(&env);
      enveloped++;
    } else if (value[0] == '[') {
      /* A broadcast whose value is an array (seed 003's users): our parser
       * takes objects only, so it goes in one and comes out of it. */
      bson_t doc;
      bson_iter_t inner;
      char *wrapped = malloc(len + 8);
      snprintf(wrapped, len + 8, "{\"a\":%s}", value);
      cr_assert_eq(chat_json_parse(wrapped, strlen(wrapped), 1 << 20, &doc, why, sizeof why),
                   CHAT_OK, "%s: %s", file, why);
      bson_t array;
      const uint8_t *data;
      uint32_t data_len;
      cr_assert(bson_iter_init_find(&inner, &doc, "a") && BSON_ITER_HOLDS_ARRAY(&inner));
      bson_iter_array(&inner, &data_len, &data);
      cr_assert(bson_init_static(&array, data, data_len));
      cr_assert_eq(chat_json_append(out, &array, true), CHAT_OK);
      bson_destroy(&doc);
      free(wrapped);
    } else {
      bson_t doc;
      cr_assert_eq(chat_json_parse(value, len, 1 << 20, &doc, why, sizeof why), CHAT_OK, "%s: %s",
                   file, why);
      cr_assert_eq(chat_json_append(out, &doc, false), CHAT_OK);
      bson_destroy(&doc);
    }
    cr_assert_str_eq(out->str, value, "%s does not re-encode to the same bytes", file);
    bson_string_free(out, true);
    free(value);
    checked++;
  }
  cr_assert_gt(enveloped, 0, "no enveloped vectors in proto/vectors/index.json");
  cr_assert_gt(checked, enveloped, "no broadcast vectors in proto/vectors/index.json");
  bson_destroy(&index);
  free(index_text);
}

Test(envelope, new_envelope_encodes_and_decodes) {
  chat_envelope_t env, back;
  char why[256];
  cr_assert_eq(chat_envelope_init(&env, "message.send", "gateway/gw-1", "req-7"), CHAT_OK);
  BSON_APPEND_UTF8(&env.payload, "content", "hi \"there\"");
  BSON_APPEND_INT64(&env.payload, "n", 5);
  bson_string_t *out = bson_string_new(NULL);
  cr_assert_eq(chat_envelope_encode(&env, out), CHAT_OK);
  cr_assert(strncmp(out->str, "{\"v\":1,\"type\":\"message.send\",\"id\":\"", 35) == 0, "%s",
            out->str);
  cr_assert_eq(chat_envelope_decode(out->str, out->len, 4096, &back, why, sizeof why), CHAT_OK,
               "%s", why);
  cr_assert_str_eq(back.id, env.id);
  cr_assert_eq(back.ts, env.ts);
  cr_assert_str_eq(back.correlation_id, "req-7");
  /* JSON has one integer type: 5 comes back as an int32, so compare the
   * encodings, which is what travels. */
  bson_string_t *again = bson_string_new(NULL);
  cr_assert_eq(chat_envelope_encode(&back, again), CHAT_OK);
  cr_assert_str_eq(again->str, out->str);
  cr_assert(strstr(out->str, "\"payload\":{\"content\":\"hi \\\"there\\\"\",\"n\":5}}") != NULL,
            "%s", out->str);
  bson_string_free(again, true);
  bson_string_free(out, true);
  chat_envelope_cleanup(&env);
  chat_envelope_cleanup(&back);
  chat_envelope_cleanup(&back); /* twice is fine */
}

Test(envelope, init_refuses_bad_types) {
  chat_envelope_t env;
  cr_assert_eq(chat_envelope_init(&env, "Message Send", "gateway/gw-1", NULL), CHAT_ERR_INVALID);
  cr_assert_eq(chat_envelope_init(&env, "", "gateway/gw-1", NULL), CHAT_ERR_INVALID);
}

static void expect_decode(const char *text, chat_err_t expected, const char *fault) {
  chat_envelope_t env;
  char why[256] = "";
  cr_assert_eq(chat_envelope_decode(text, strlen(text), 4096, &env, why, sizeof why), expected,
               "%s -> %s", text, why);
  cr_assert(strstr(why, fault) != NULL, "'%s' does not say '%s'", why, fault);
}

#define GOOD_ID "\"id\":\"0123456789abcdef01234567\""

Test(envelope, malformed_envelopes_get_precise_errors) {
  expect_decode("not json", CHAT_ERR_JSON, "expected a JSON object");
  expect_decode("{\"v\":2,\"type\":\"a\"," GOOD_ID ",\"ts\":1,\"source\":\"s\",\"payload\":{}}",
                CHAT_ERR_VERSION, "version 2 is not supported");
  expect_decode("{\"type\":\"a\"," GOOD_ID ",\"ts\":1,\"source\":\"s\",\"payload\":{}}",
                CHAT_ERR_SCHEMA, "v is missing");
  expect_decode("{\"v\":1,\"type\":\"a\",\"id\":\"xyz\",\"ts\":1,\"source\":\"s\",\"payload\":{}}",
                CHAT_ERR_SCHEMA, "24 lowercase hex");
  expect_decode("{\"v\":1,\"type\":\"A B\"," GOOD_ID ",\"ts\":1,\"source\":\"s\",\"payload\":{}}",
                CHAT_ERR_SCHEMA, "type must be");
  expect_decode("{\"v\":1,\"type\":\"a\"," GOOD_ID ",\"ts\":\"1\",\"source\":\"s\",\"payload\":{}}",
                CHAT_ERR_SCHEMA, "ts must be an integer");
  expect_decode("{\"v\":1,\"type\":\"a\"," GOOD_ID ",\"ts\":1,\"source\":\"s\",\"payload\":[]}",
                CHAT_ERR_SCHEMA, "payload must be an object");
  expect_decode("{\"v\":1,\"type\":\"a\"," GOOD_ID ",\"ts\":1,\"payload\":{}}", CHAT_ERR_SCHEMA,
                "missing one of");
  expect_decode("{\"v\":1,\"type\":\"a\"," GOOD_ID ",\"ts\":1,\"source\":\"s\"}", CHAT_ERR_SCHEMA,
                "missing one of");
}

Test(envelope, unknown_top_level_keys_are_ignored) {
  const char *text = "{\"v\":1,\"type\":\"a.b\"," GOOD_ID
                     ",\"ts\":5,\"source\":\"s\",\"later\":true,\"payload\":{}}";
  chat_envelope_t env;
  char why[256];
  cr_assert_eq(chat_envelope_decode(text, strlen(text), 4096, &env, why, sizeof why), CHAT_OK, "%s",
               why);
  chat_envelope_cleanup(&env);
}

Test(envelope, oversized_values_are_refused) {
  const char *text = "{\"v\":1}";
  chat_envelope_t env;
  char why[256];
  cr_assert_eq(chat_envelope_decode(text, strlen(text), 3, &env, why, sizeof why),
               CHAT_ERR_TOO_LARGE);
}

Test(envelope, payload_strings_are_read_by_key) {
  chat_envelope_t env;
  cr_assert_eq(chat_envelope_init(&env, "t.x", "gateway/g", NULL), CHAT_OK);
  BSON_APPEND_UTF8(&env.payload, "name", "ann");
  BSON_APPEND_INT32(&env.payload, "n", 3);
  uint32_t len = 0;
  cr_assert_str_eq(chat_envelope_string(&env, "name", &len), "ann");
  cr_assert_eq(len, 3);
  cr_assert_null(chat_envelope_string(&env, "n", NULL), "not a string");
  cr_assert_null(chat_envelope_string(&env, "absent", NULL));
  chat_envelope_cleanup(&env);
}
