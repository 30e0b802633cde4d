#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/config.h"

/* A fake environment: pairs of name, value, ending with NULL. */
static const char *lookup_pairs(void *ctx, const char *name) {
  const char *const *pairs = ctx;
  for (size_t i = 0; pairs[i]; i += 2) {
    if (strcmp(pairs[i], name) == 0)
      return pairs[i + 1];
  }
  return NULL;
}

static chat_err_t load(const char *const *pairs, chat_config_t *cfg, char *why, size_t len) {
  return chat_config_load_from(cfg, CHAT_SERVICE_PERSISTENCE, lookup_pairs, (void *)pairs, why,
                               len);
}

Test(config, defaults_when_nothing_is_set) {
  const char *env[] = {NULL};
  chat_config_t cfg;
  char why[256];
  cr_assert_eq(load(env, &cfg, why, sizeof why), CHAT_OK, "%s", why);
  cr_assert_str_eq(cfg.kafka_brokers, "127.0.0.1:9092");
  cr_assert_str_eq(cfg.mongo_uri, "mongodb://127.0.0.1:27017");
  cr_assert_str_eq(cfg.mongo_db, "chat");
  cr_assert_str_eq(cfg.topic_prefix, "");
  cr_assert_eq(cfg.topic_partitions, 12);
  cr_assert_eq(cfg.log_level, CHAT_LOG_INFO);
  cr_assert_eq(cfg.health_port, 8081, "persistence's own default port");
  cr_assert(strncmp(cfg.instance_id, "persistence-", 12) == 0, "%s", cfg.instance_id);
}

Test(config, good_values_are_taken) {
  const char *env[] = {"CHAT_KAFKA_BROKERS",
                       "k1:9092,k2:19092",
                       "CHAT_TOPIC_PREFIX",
                       "run-7.",
                       "CHAT_TOPIC_PARTITIONS",
                       "3",
                       "CHAT_MONGO_URI",
                       "mongodb://db1:27017,db2:27017/?replicaSet=rs0",
                       "CHAT_MONGO_DB",
                       "chat_test_1",
                       "CHAT_LOG_LEVEL",
                       "debug",
                       "CHAT_INSTANCE_ID",
                       "persist-a",
                       "CHAT_LISTEN_ADDR",
                       "::1",
                       "CHAT_HEALTH_PORT",
                       "9100",
                       "CHAT_KAFKA_CONFIG",
                       "security.protocol=SSL,ssl.ca.location=/etc/ca.pem",
                       NULL};
  chat_config_t cfg;
  char why[256];
  cr_assert_eq(load(env, &cfg, why, sizeof why), CHAT_OK, "%s", why);
  cr_assert_str_eq(cfg.kafka_brokers, "k1:9092,k2:19092");
  cr_assert_str_eq(cfg.topic_prefix, "run-7.");
  cr_assert_eq(cfg.topic_partitions, 3);
  cr_assert_str_eq(cfg.mongo_db, "chat_test_1");
  cr_assert_eq(cfg.log_level, CHAT_LOG_DEBUG);
  cr_assert_str_eq(cfg.instance_id, "persist-a");
  cr_assert_str_eq(cfg.listen_addr, "::1");
  cr_assert_eq(cfg.health_port, 9100);
}

/* Each bad value is refused with a message naming the variable and the
 * fault. */
static void expect_refused(const char *name, const char *value, const char *fault) {
  const char *env[] = {name, value, NULL};
  chat_config_t cfg;
  char why[512] = "";
  cr_assert_eq(load(env, &cfg, why, sizeof why), CHAT_ERR_CONFIG, "%s=%s was accepted", name,
               value);
  cr_assert(strstr(why, name) != NULL, "message '%s' does not name %s", why, name);
  cr_assert(strstr(why, fault) != NULL, "message '%s' does not say '%s'", why, fault);
}

Test(config, bad_values_name_the_variable_and_the_fault) {
  expect_refused("CHAT_KAFKA_BROKERS", "", "required");
  expect_refused("CHAT_KAFKA_BROKERS", "kafka", "host:port");
  expect_refused("CHAT_KAFKA_BROKERS", "kafka:0", "host:port");
  expect_refused("CHAT_KAFKA_BROKERS", "k1:9092,k2:99999", "'k2:99999'");
  expect_refused("CHAT_KAFKA_CONFIG", "acks", "key=value");
  expect_refused("CHAT_TOPIC_PREFIX", "a/b", "letters, digits");
  expect_refused("CHAT_TOPIC_PARTITIONS", "0", "from 1 to 1000");
  expect_refused("CHAT_TOPIC_PARTITIONS", "12x", "whole number");
  expect_refused("CHAT_TOPIC_PARTITIONS", "99999999999999999999", "whole number");
  expect_refused("CHAT_TOPIC_REPLICATION", "-1", "from 1 to 16");
  expect_refused("CHAT_MONGO_URI", "postgres://x", "not a MongoDB connection string");
  expect_refused("CHAT_MONGO_DB", "my.db", "letters, digits");
  expect_refused("CHAT_MONGO_DB", "", "required");
  expect_refused("CHAT_LOG_LEVEL", "verbose", "debug, info, warn, error");
  expect_refused("CHAT_INSTANCE_ID", "gw 1", "letters, digits");
  expect_refused("CHAT_LISTEN_ADDR", "localhost", "IPv4 or IPv6");
  expect_refused("CHAT_HEALTH_PORT", "65536", "from 0 to 65535");
  expect_refused("CHAT_SHUTDOWN_TIMEOUT_MS", "5", "from 100 to 600000");
}

Test(config, the_jwt_secret_is_required_by_the_gateway_only) {
  const char *none[] = {NULL};
  const char *short_secret[] = {"CHAT_JWT_SECRET", "too-short", NULL};
  const char *good[] = {"CHAT_JWT_SECRET", "0123456789abcdef0123456789abcdef", NULL};
  chat_config_t cfg;
  char why[256];
  cr_assert_eq(chat_config_load_from(&cfg, CHAT_SERVICE_GATEWAY, lookup_pairs, (void *)none, why,
                                     sizeof why),
               CHAT_ERR_CONFIG);
  cr_assert(strstr(why, "CHAT_JWT_SECRET is required") != NULL, "%s", why);
  cr_assert_eq(chat_config_load_from(&cfg, CHAT_SERVICE_GATEWAY, lookup_pairs,
                                     (void *)short_secret, why, sizeof why),
               CHAT_ERR_CONFIG);
  cr_assert(strstr(why, "shorter than 32 bytes") != NULL, "%s", why);
  cr_assert_eq(chat_config_load_from(&cfg, CHAT_SERVICE_GATEWAY, lookup_pairs, (void *)good, why,
                                     sizeof why),
               CHAT_OK, "%s", why);
  cr_assert_eq(cfg.gateway_port, 3000);
  cr_assert_eq(chat_config_load_from(&cfg, CHAT_SERVICE_RECEIPTS, lookup_pairs, (void *)none, why,
                                     sizeof why),
               CHAT_OK, "%s", why);
}

Test(config, unknown_chat_variables_are_refused) {
  char *const env[] = {"PATH=/bin", "CHAT_KAFKA_BROKERS=x:1", "CHAT_TEST_KAFKA_BROKERS=y",
                       "CHAT_KAFKA_BROKER=typo:1", NULL};
  char why[256];
  cr_assert_eq(chat_config_check_names(env, why, sizeof why), CHAT_ERR_CONFIG);
  cr_assert(strstr(why, "CHAT_KAFKA_BROKER is not a known setting") != NULL, "%s", why);
  /* The dev and test tooling's own settings (deploy/, tests/run.sh) reach
   * the services through the environment and must not stop them. */
  char *const good[] = {"CHAT_LOG_LEVEL=warn", "CHAT_TEST_ANYTHING=1", "CHAT_DEV_STACK_DIR=/x",
                        "CHAT_DEV_CACHE_DIR=/y", "CHAT_BENCH_PAIRS=5", "HOME=/", NULL};
  cr_assert_eq(chat_config_check_names(good, why, sizeof why), CHAT_OK, "%s", why);
}

Test(config, every_service_has_its_own_health_port) {
  const char *env[] = {NULL};
  chat_config_t cfg;
  char why[256];
  const struct {
    chat_service_t service;
    int port;
  } cases[] = {{CHAT_SERVICE_GATEWAY, 8080},
               {CHAT_SERVICE_PERSISTENCE, 8081},
               {CHAT_SERVICE_PRESENCE, 8082},
               {CHAT_SERVICE_RECEIPTS, 8083}};
  const char *gateway_env[] = {"CHAT_JWT_SECRET", "0123456789abcdef0123456789abcdef", NULL};
  for (size_t i = 0; i < 4; i++) {
    const char *const *pairs = cases[i].service == CHAT_SERVICE_GATEWAY ? gateway_env : env;
    cr_assert_eq(chat_config_load_from(&cfg, cases[i].service, lookup_pairs, (void *)pairs, why,
                                       sizeof why),
                 CHAT_OK, "%s", why);
    cr_assert_eq(cfg.health_port, cases[i].port);
  }
}

/* docs/configuration.md is the one table operators read: it must list every
 * variable the code knows, with the code's default. */
Test(config, documentation_table_matches_the_code) {
  FILE *f = fopen(CHAT_SOURCE_DIR "/docs/configuration.md", "r");
  cr_assert_not_null(f, "docs/configuration.md is missing");
  static char doc[65536];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  doc[n] = '\0';
  fclose(f);
#define CHECK_DOC_(name, field, kind, dflt, min, max, services, text)                              \
  {                                                                                                \
    char row[256];                                                                                 \
    snprintf(row, sizeof row, "| `%s` | `%s` |", #name, dflt);                                     \
    cr_assert(strstr(doc, row) != NULL, "docs/configuration.md has no row starting '%s'", row);    \
  }
  CHAT_CONFIG_VARS(CHECK_DOC_)
#undef CHECK_DOC_
}

Test(config, summary_spacing_cap_is_never_below_the_first_spacing) {
  chat_config_t cfg;
  char why[256];
  const char *defaults[] = {NULL};
  cr_assert_eq(load(defaults, &cfg, why, sizeof why), CHAT_OK, "%s", why);
  cr_assert_eq(cfg.summary_interval_ms, 1000);
  cr_assert_eq(cfg.summary_interval_max_ms, 5000);

  const char *long_first[] = {"CHAT_SUMMARY_INTERVAL_MS", "10000", NULL};
  cr_assert_eq(load(long_first, &cfg, why, sizeof why), CHAT_OK, "%s", why);
  cr_assert_eq(cfg.summary_interval_max_ms, 10000, "an unset cap follows a longer first spacing");

  const char *cap_below[] = {"CHAT_SUMMARY_INTERVAL_MS", "2000", "CHAT_SUMMARY_INTERVAL_MAX_MS",
                             "1500", NULL};
  cr_assert_eq(load(cap_below, &cfg, why, sizeof why), CHAT_ERR_CONFIG);
  cr_assert_str_eq(why, "CHAT_SUMMARY_INTERVAL_MAX_MS=1500 is less than CHAT_SUMMARY_INTERVAL_MS=2000");

  const char *no_backoff[] = {"CHAT_SUMMARY_INTERVAL_MAX_MS", "1000", NULL};
  cr_assert_eq(load(no_backoff, &cfg, why, sizeof why), CHAT_OK, "%s", why);
  cr_assert_eq(cfg.summary_interval_max_ms, 1000);
}
