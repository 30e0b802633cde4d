/* Configuration from environment variables, all prefixed CHAT_.
 *
 * CHAT_CONFIG_VARS is the one table of settings; docs/configuration.md
 * documents the same table and a unit test keeps the two in step. Loading
 * validates every value and fails on the first bad one with a message that
 * names the variable, so a process never starts half-configured. Unknown
 * CHAT_* variables are refused too (a typo must not silently fall back to a
 * default); CHAT_TEST_* (the test harness) and CHAT_DEV_* (deploy/ scripts)
 * are left alone. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/err.h"
#include "chat/log.h"

/* Which programs read a setting (a bit mask). */
typedef enum chat_service {
  CHAT_SERVICE_GATEWAY = 1 << 0,
  CHAT_SERVICE_PERSISTENCE = 1 << 1,
  CHAT_SERVICE_PRESENCE = 1 << 2,
  CHAT_SERVICE_RECEIPTS = 1 << 3,
} chat_service_t;

#define CHAT_SERVICE_ALL                                                                           \
  (CHAT_SERVICE_GATEWAY | CHAT_SERVICE_PERSISTENCE | CHAT_SERVICE_PRESENCE | CHAT_SERVICE_RECEIPTS)

#define CHAT_CONFIG_STR_MAX 512 /* longest string setting, in bytes */

/* X(NAME, field, kind, "default", min, max, services, "description")
 * kind: STR (validated by check_<field>() in config.c), INT (min..max),
 * LEVEL (a log level). For a STR the min column is 1 when the setting is
 * required (must not be empty) by the services in the services column. */
#define CHAT_CONFIG_VARS(X)                                                                        \
  X(CHAT_KAFKA_BROKERS, kafka_brokers, STR, "127.0.0.1:9092", 1, 0, CHAT_SERVICE_ALL,              \
    "Kafka bootstrap servers, host:port[,host:port...]")                                           \
  X(CHAT_KAFKA_CONFIG, kafka_config, STR, "", 0, 0, CHAT_SERVICE_ALL,                              \
    "Extra librdkafka properties, key=value[,key=value...] (e.g. security.protocol=SSL)")          \
  X(CHAT_TOPIC_PREFIX, topic_prefix, STR, "", 0, 0, CHAT_SERVICE_ALL,                              \
    "Prepended to every topic name; letters, digits, '.', '_', '-', at most 100")                  \
  X(CHAT_TOPIC_PARTITIONS, topic_partitions, INT, "12", 1, 1000, CHAT_SERVICE_ALL,                 \
    "Partitions of each topic when a service creates it")                                          \
  X(CHAT_TOPIC_REPLICATION, topic_replication, INT, "1", 1, 16, CHAT_SERVICE_ALL,                  \
    "Replication factor of each topic when a service creates it")                                  \
  X(CHAT_MONGO_URI, mongo_uri, STR, "mongodb://127.0.0.1:27017", 1, 0, CHAT_SERVICE_ALL,           \
    "MongoDB connection string")                                                                   \
  X(CHAT_MONGO_DB, mongo_db, STR, "chat", 1, 0, CHAT_SERVICE_ALL,                                  \
    "Database name; letters, digits, '_', '-', at most 63")                                        \
  X(CHAT_LOG_LEVEL, log_level, LEVEL, "info", 0, 0, CHAT_SERVICE_ALL,                              \
    "debug, info, warn or error")                                                                  \
  X(CHAT_INSTANCE_ID, instance_id, STR, "", 0, 0, CHAT_SERVICE_ALL,                                \
    "This process's id in logs, consumer client ids and presence; default "                        \
    "<service>-<hostname>-<pid>; letters, digits, '.', '_', '-', at most 64")                      \
  X(CHAT_LISTEN_ADDR, listen_addr, STR, "127.0.0.1", 1, 0, CHAT_SERVICE_ALL,                       \
    "IP address the HTTP listeners bind (0.0.0.0 in containers)")                                  \
  X(CHAT_HEALTH_PORT, health_port, INT, "0", 0, 65535, CHAT_SERVICE_ALL,                           \
    "Port of GET /healthz and /readyz; 0 picks the service's default: gateway 8080, "              \
    "persistence 8081, presence 8082, receipts 8083")                                              \
  X(CHAT_STARTUP_BACKOFF_MAX_MS, startup_backoff_max_ms, INT, "10000", 100, 600000,                \
    CHAT_SERVICE_ALL, "Longest wait between retries while Kafka or MongoDB is unreachable")        \
  X(CHAT_SHUTDOWN_TIMEOUT_MS, shutdown_timeout_ms, INT, "10000", 100, 600000, CHAT_SERVICE_ALL,    \
    "Time allowed on SIGTERM to finish in-flight work and flush")                                  \
  X(CHAT_GATEWAY_PORT, gateway_port, INT, "3000", 1, 65535, CHAT_SERVICE_GATEWAY,                  \
    "Port of Socket.IO (/socket.io/) for clients")                                                 \
  X(CHAT_JWT_SECRET, jwt_secret, STR, "", 1, 0, CHAT_SERVICE_GATEWAY,                              \
    "HS256 key of the tokens; at least 32 bytes; required by the gateway")                         \
  X(CHAT_ALLOW_QUERY_TOKEN, allow_query_token, INT, "0", 0, 1, CHAT_SERVICE_GATEWAY,               \
    "1 also reads a socket's token from the query string (?token=); off by default")               \
  X(CHAT_PING_INTERVAL_MS, ping_interval_ms, INT, "25000", 100, 600000, CHAT_SERVICE_GATEWAY,      \
    "Engine.IO pingInterval")                                                                      \
  X(CHAT_PING_TIMEOUT_MS, ping_timeout_ms, INT, "20000", 100, 600000, CHAT_SERVICE_GATEWAY,        \
    "Engine.IO pingTimeout")                                                                       \
  X(CHAT_MAX_PAYLOAD_BYTES, max_payload_bytes, INT, "1000000", 1024, 100000000,                    \
    CHAT_SERVICE_GATEWAY, "Engine.IO maxPayload: largest message or polling body")                 \
  X(CHAT_MAX_QUEUED_BYTES, max_queued_bytes, INT, "8388608", 65536, 1000000000,                  \
    CHAT_SERVICE_GATEWAY, "Bytes queued for one connection that does not read, before it is closed") \
  X(CHAT_RECOVERY_WINDOW_SECONDS, recovery_window_seconds, INT, "86400", 0, 31536000,             \
    CHAT_SERVICE_GATEWAY,                                                                          \
    "How long after its last event a Socket.IO session may be recovered on any gateway (0: off)") \
  X(CHAT_CONNECT_TIMEOUT_MS, connect_timeout_ms, INT, "45000", 100, 600000, CHAT_SERVICE_GATEWAY,  \
    "Close a connection that sends no namespace CONNECT this long after opening")                  \
  X(CHAT_MAX_CONTENT_BYTES, max_content_bytes, INT, "10000", 1, 65536, CHAT_SERVICE_GATEWAY,       \
    "Longest message content accepted, in bytes of UTF-8")                                         \
  X(CHAT_RATE_LIMIT_PER_SEC, rate_limit_per_sec, INT, "20", 1, 100000, CHAT_SERVICE_GATEWAY,       \
    "Client events one socket may send per second, on average")                                    \
  X(CHAT_RATE_LIMIT_BURST, rate_limit_burst, INT, "40", 1, 100000, CHAT_SERVICE_GATEWAY,           \
    "Client events one socket may send at once before the rate limit applies")                     \
  X(CHAT_PRESENCE_HEARTBEAT_MS, presence_heartbeat_ms, INT, "5000", 100, 600000,                   \
    CHAT_SERVICE_GATEWAY, "How often a gateway tells presence it is alive")                        \
  X(CHAT_PRESENCE_EXPIRY_MS, presence_expiry_ms, INT, "15000", 300, 3600000,                       \
    CHAT_SERVICE_PRESENCE, "A gateway silent this long is dead: its sessions end")                 \
  X(CHAT_CACHED_CONVERSATIONS, cached_conversations, INT, "100000", 16, 10000000,                  \
    CHAT_SERVICE_PERSISTENCE, "Conversations whose state the partition owner keeps in memory")      \
  X(CHAT_SUMMARY_INTERVAL_MS, summary_interval_ms, INT, "1000", 0, 60000,                          \
    CHAT_SERVICE_PERSISTENCE, "Least time between two writes of one conversation's summary")       \
  X(CHAT_SUMMARY_INTERVAL_MAX_MS, summary_interval_max_ms, INT, "5000", 0, 60000,                  \
    CHAT_SERVICE_PERSISTENCE,                                                                      \
    "Longest time between two summary writes of a busy conversation (the interval doubles to it)") \
  X(CHAT_CACHED_USERS, cached_users, INT, "100000", 16, 10000000, CHAT_SERVICE_PERSISTENCE,         \
    "User names the partition owner keeps in memory")                                             \
  X(CHAT_GUEST_ROOMS, guest_rooms, STR, "off", 0, 0, CHAT_SERVICE_GATEWAY,                         \
    "Seed 003's guest rooms: off, namespace (on CHAT_GUEST_NAMESPACE) or main (on /, guests "      \
    "only)")                                                                                       \
  X(CHAT_GUEST_NAMESPACE, guest_namespace, STR, "/guest", 0, 0, CHAT_SERVICE_GATEWAY,              \
    "The namespace of guest rooms when CHAT_GUEST_ROOMS=namespace")                                \
  X(CHAT_WEB_ROOT, web_root, STR, "", 0, 0, CHAT_SERVICE_GATEWAY,                                  \
    "The web client's files, served at /: empty for the bundle built with the gateway, off for "  \
    "none, or an absolute directory")

typedef struct chat_config {
  char kafka_brokers[CHAT_CONFIG_STR_MAX];
  char kafka_config[CHAT_CONFIG_STR_MAX];
  char topic_prefix[CHAT_CONFIG_STR_MAX];
  int topic_partitions;
  int topic_replication;
  char mongo_uri[CHAT_CONFIG_STR_MAX];
  char mongo_db[CHAT_CONFIG_STR_MAX];
  chat_log_level_t log_level;
  char instance_id[CHAT_CONFIG_STR_MAX];
  char listen_addr[CHAT_CONFIG_STR_MAX];
  int health_port;
  int startup_backoff_max_ms;
  int shutdown_timeout_ms;
  int gateway_port;
  char jwt_secret[CHAT_CONFIG_STR_MAX];
  int allow_query_token;
  int ping_interval_ms;
  int ping_timeout_ms;
  int max_payload_bytes;
  int max_queued_bytes;
  int recovery_window_seconds;
  int connect_timeout_ms;
  int max_content_bytes;
  int rate_limit_per_sec;
  int rate_limit_burst;
  int presence_heartbeat_ms;
  int presence_expiry_ms;
  int cached_conversations;
  int summary_interval_ms;
  int summary_interval_max_ms;
  int cached_users;
  char guest_rooms[CHAT_CONFIG_STR_MAX];
  char guest_namespace[CHAT_CONFIG_STR_MAX];
  char web_root[CHAT_CONFIG_STR_MAX];
} chat_config_t;

/* Looks a variable up; returns NULL when it is not set. */
typedef const char *(*chat_config_lookup_fn)(void *ctx, const char *name);

/* Fills *cfg for service from lookup (getenv when NULL), applying defaults
 * and the service's own defaults (health port, instance id).
 * Returns CHAT_OK or CHAT_ERR_CONFIG with a message naming the variable and
 * what is wrong in errbuf. */
chat_err_t chat_config_load_from(chat_config_t *cfg, chat_service_t service,
                                 chat_config_lookup_fn lookup, void *lookup_ctx, char *errbuf,
                                 size_t errbuf_len);

/* Checks that every CHAT_* name in envp (a NULL-terminated "NAME=value"
 * array, e.g. environ) is a known setting; CHAT_TEST_* and CHAT_DEV_* names
 * are allowed.
 * Returns CHAT_OK or CHAT_ERR_CONFIG naming the first unknown variable. */
chat_err_t chat_config_check_names(char *const *envp, char *errbuf, size_t errbuf_len);

/* chat_config_check_names(environ) then chat_config_load_from(getenv). */
chat_err_t chat_config_load(chat_config_t *cfg, chat_service_t service, char *errbuf,
                            size_t errbuf_len);

/* The service's short name: "gateway", "persistence", "presence", "receipts". */
const char *chat_service_name(chat_service_t service);

#endif
