#include "chat/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define CONFIG_PREFIX "CHAT_"
#define CONFIG_TEST_PREFIX "CHAT_TEST_" /* reserved for the test harness */
#define CONFIG_DEV_PREFIX "CHAT_DEV_"   /* reserved for deploy/ scripts */
#define CONFIG_BENCH_PREFIX "CHAT_BENCH_" /* reserved for bench/run.sh */

/* Each check_<field>() returns NULL when value is acceptable, else a
 * sentence saying what is wrong (written into why when it needs details). */
typedef const char *(*check_fn)(const char *value, char *why, size_t why_len);

static bool all_chars_in(const char *value, const char *extra) {
  for (const char *p = value; *p; p++) {
    if (!isalnum((unsigned char)*p) && !strchr(extra, *p))
      return false;
  }
  return true;
}

static const char *check_kafka_brokers(const char *value, char *why, size_t why_len) {
  char *copy = strdup(value);
  const char *problem = NULL;
  char *save = NULL;
  if (!copy)
    return "out of memory";
  for (char *broker = strtok_r(copy, ",", &save); broker; broker = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(broker, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == broker || !end || *end != '\0' || port < 1 || port > 65535) {
      snprintf(why, why_len, "'%s' is not host:port with a port from 1 to 65535", broker);
      problem = why;
      break;
    }
  }
  free(copy);
  return problem;
}

static const char *check_kafka_config(const char *value, char *why, size_t why_len) {
  char *copy = strdup(value);
  const char *problem = NULL;
  char *save = NULL;
  if (!copy)
    return "out of memory";
  for (char *pair = strtok_r(copy, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(pair, '=');
    if (!eq || eq == pair || eq[1] == '\0') {
      snprintf(why, why_len, "'%s' is not key=value", pair);
      problem = why;
      break;
    }
  }
  free(copy);
  return problem; /* librdkafka itself judges the keys when the client is made */
}

static const char *check_topic_prefix(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (strlen(value) > 100)
    return "is longer than 100 characters";
  if (!all_chars_in(value, "._-"))
    return "may hold only letters, digits, '.', '_' and '-'";
  return NULL;
}

static const char *check_guest_rooms(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (strcmp(value, "off") != 0 && strcmp(value, "namespace") != 0 && strcmp(value, "main") != 0)
    return "is not one of off, namespace, main";
  return NULL;
}

static const char *check_guest_namespace(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (value[0] != '/' || strlen(value) < 2 || strlen(value) > 64 || !all_chars_in(value + 1, "_-"))
    return "must be '/' then 1 to 63 letters, digits, '_' or '-' (e.g. /guest)";
  return NULL;
}

static const char *check_web_root(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (value[0] && strcmp(value, "off") != 0 && value[0] != '/')
    return "must be empty (the built web client), off, or an absolute directory";
  return NULL;
}

static const char *check_mongo_uri(const char *value, char *why, size_t why_len) {
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(value, &error);
  if (!uri) {
    /* At most 160 bytes of libmongoc's message: why is a few hundred
     * bytes, and gcc's -Wformat-truncation (release builds) sees the 504
     * error.message may hold. */
    snprintf(why, why_len, "is not a MongoDB connection string: %.160s", error.message);
    return why;
  }
  mongoc_uri_destroy(uri);
  return NULL;
}

static const char *check_mongo_db(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (strlen(value) > 63)
    return "is longer than 63 characters";
  if (!all_chars_in(value, "_-"))
    return "may hold only letters, digits, '_' and '-'";
  return NULL;
}

static const char *check_instance_id(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  if (strlen(value) > 64)
    return "is longer than 64 characters";
  if (!all_chars_in(value, "._-"))
    return "may hold only letters, digits, '.', '_' and '-'";
  return NULL;
}

static const char *check_jwt_secret(const char *value, char *why, size_t why_len) {
  (void)why, (void)why_len;
  return strlen(value) < 32 ? "is shorter than 32 bytes (use a long random string)" : NULL;
}

static const char *check_listen_addr(const char *value, char *why, size_t why_len) {
  unsigned char addr[sizeof(struct in6_addr)];
  (void)why, (void)why_len;
  if (inet_pton(AF_INET, value, addr) == 1 || inet_pton(AF_INET6, value, addr) == 1)
    return NULL;
  return "is not an IPv4 or IPv6 address";
}

static bool parse_int(const char *text, long min, long max, int *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || value < min || value > max)
    return false;
  *out = (int)value;
  return true;
}

static const char *lookup_getenv(void *ctx, const char *name) {
  (void)ctx;
  return getenv(name);
}

static int default_health_port(chat_service_t service) {
  switch (service) {
  case CHAT_SERVICE_GATEWAY:
    return 8080;
  case CHAT_SERVICE_PERSISTENCE:
    return 8081;
  case CHAT_SERVICE_PRESENCE:
    return 8082;
  case CHAT_SERVICE_RECEIPTS:
    return 8083;
  }
  return 8080;
}

const char *chat_service_name(chat_service_t service) {
  switch (service) {
  case CHAT_SERVICE_GATEWAY:
    return "gateway";
  case CHAT_SERVICE_PERSISTENCE:
    return "persistence";
  case CHAT_SERVICE_PRESENCE:
    return "presence";
  case CHAT_SERVICE_RECEIPTS:
    return "receipts";
  }
  return "unknown";
}

/* One loader per kind; each returns false with errbuf filled. */
static bool load_STR(const char *name, const char *text, char *field, long required, long unused,
                     check_fn check, char *errbuf, size_t errbuf_len) {
  char why[256];
  (void)unused;
  if (required && text[0] == '\0') {
    snprintf(errbuf, errbuf_len, "%s is required and must not be empty", name);
    return false;
  }
  if (strlen(text) >= CHAT_CONFIG_STR_MAX) {
    snprintf(errbuf, errbuf_len, "%s is longer than %d bytes", name, CHAT_CONFIG_STR_MAX - 1);
    return false;
  }
  const char *problem = text[0] ? check(text, why, sizeof why) : NULL;
  if (problem) {
    snprintf(errbuf, errbuf_len, "%s=\"%s\" %s", name, text, problem);
    return false;
  }
  memcpy(field, text, strlen(text) + 1);
  return true;
}

static bool load_INT(const char *name, const char *text, int *field, long min, long max,
                     check_fn unused, char *errbuf, size_t errbuf_len) {
  (void)unused;
  if (!parse_int(text, min, max, field)) {
    snprintf(errbuf, errbuf_len, "%s=\"%s\" is not a whole number from %ld to %ld", name, text, min,
             max);
    return false;
  }
  return true;
}

static bool load_LEVEL(const char *name, const char *text, chat_log_level_t *field, long min,
                       long max, check_fn unused, char *errbuf, size_t errbuf_len) {
  (void)min, (void)max, (void)unused;
  if (!chat_log_level_parse(text, field)) {
    snprintf(errbuf, errbuf_len, "%s=\"%s\" is not one of debug, info, warn, error", name, text);
    return false;
  }
  return true;
}

/* INT and LEVEL settings have no check_<field>() of their own. */
#define CHECK_FN_STR(field) check_##field
#define CHECK_FN_INT(field) NULL
#define CHECK_FN_LEVEL(field) NULL
/* A STR's min column says "required", but only for the services that read it. */
#define REQUIRED_STR(min, services, service) ((min) && ((services) & (service)) ? 1 : 0)
#define REQUIRED_INT(min, services, service) (min)
#define REQUIRED_LEVEL(min, services, service) (min)
/* Where each kind of setting is stored: STR fields are arrays. */
#define FIELD_STR(cfg, field) ((cfg)->field)
#define FIELD_INT(cfg, field) (&(cfg)->field)
#define FIELD_LEVEL(cfg, field) (&(cfg)->field)

chat_err_t chat_config_load_from(chat_config_t *cfg, chat_service_t service,
                                 chat_config_lookup_fn lookup, void *lookup_ctx, char *errbuf,
                                 size_t errbuf_len) {
  memset(cfg, 0, sizeof *cfg);
  if (!lookup)
    lookup = lookup_getenv;
#define LOAD_VAR_(name, field, kind, dflt, min, max, services, doc)                                \
  {                                                                                                \
    const char *text = lookup(lookup_ctx, #name);                                                  \
    if (!load_##kind(#name, text ? text : dflt, FIELD_##kind(cfg, field),                          \
                     REQUIRED_##kind(min, services, service), max, CHECK_FN_##kind(field), errbuf, \
                     errbuf_len))                                                                  \
      return CHAT_ERR_CONFIG;                                                                      \
  }
  CHAT_CONFIG_VARS(LOAD_VAR_)
#undef LOAD_VAR_

  /* Unset, the busy spacing's cap is at least the first spacing; set,
   * a cap below it is a mistake. */
  if (cfg->summary_interval_max_ms < cfg->summary_interval_ms &&
      !lookup(lookup_ctx, "CHAT_SUMMARY_INTERVAL_MAX_MS"))
    cfg->summary_interval_max_ms = cfg->summary_interval_ms;
  if (cfg->summary_interval_max_ms < cfg->summary_interval_ms) {
    snprintf(errbuf, errbuf_len,
             "CHAT_SUMMARY_INTERVAL_MAX_MS=%d is less than CHAT_SUMMARY_INTERVAL_MS=%d",
             cfg->summary_interval_max_ms, cfg->summary_interval_ms);
    return CHAT_ERR_CONFIG;
  }

  if (cfg->health_port == 0)
    cfg->health_port = default_health_port(service);
  if (cfg->instance_id[0] == '\0') {
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++) {
      if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
        *p = '-';
    }
    snprintf(cfg->instance_id, sizeof cfg->instance_id, "%s-%.40s-%ld", chat_service_name(service),
             host, (long)getpid());
  }
  return CHAT_OK;
}

chat_err_t chat_config_check_names(char *const *envp, char *errbuf, size_t errbuf_len) {
  static const char *const known[] = {
#define NAME_(name, field, kind, dflt, min, max, services, doc) #name,
      CHAT_CONFIG_VARS(NAME_)
#undef NAME_
  };
  for (char *const *entry = envp; entry && *entry; entry++) {
    const char *eq = strchr(*entry, '=');
    size_t name_len = eq ? (size_t)(eq - *entry) : strlen(*entry);
    bool found = false;
    if (strncmp(*entry, CONFIG_PREFIX, strlen(CONFIG_PREFIX)) != 0 ||
        strncmp(*entry, CONFIG_TEST_PREFIX, strlen(CONFIG_TEST_PREFIX)) == 0 ||
        strncmp(*entry, CONFIG_DEV_PREFIX, strlen(CONFIG_DEV_PREFIX)) == 0 ||
        strncmp(*entry, CONFIG_BENCH_PREFIX, strlen(CONFIG_BENCH_PREFIX)) == 0)
      continue;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !found; i++)
      found = strlen(known[i]) == name_len && strncmp(known[i], *entry, name_len) == 0;
    if (!found) {
      snprintf(errbuf, errbuf_len,
               "%.*s is not a known setting (see docs/configuration.md for the list)",
               (int)name_len, *entry);
      return CHAT_ERR_CONFIG;
    }
  }
  return CHAT_OK;
}

chat_err_t chat_config_load(chat_config_t *cfg, chat_service_t service, char *errbuf,
                            size_t errbuf_len) {
  chat_err_t err = chat_config_check_names(environ, errbuf, errbuf_len);
  if (err != CHAT_OK)
    return err;
  return chat_config_load_from(cfg, service, NULL, NULL, errbuf, errbuf_len);
}
