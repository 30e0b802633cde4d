/* Each service starts against the real stack, creates its topics and
 * indexes, reports ready, and stops cleanly on SIGTERM within a bound; a bad
 * setting stops it at once with a message naming the variable; an absent
 * Kafka keeps it alive but not ready. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat/kafka.h"
#include "chat/mongo.h"
#include "stack.h"

#define READY_WITHIN_MS 60000 /* from exec to /readyz 200 */
#define STOP_WITHIN_MS 15000  /* from SIGTERM to exit */

static void teardown(void) { stack_kill_all(); }

TestSuite(services_lifecycle, .fini = teardown, .timeout = 240);

typedef struct service_case {
  const char *name;
  const char *collection; /* one index the service must have made there */
  const char *index;
} service_case_t;

static const service_case_t services[] = {
    {"gateway", NULL, NULL},
    {"persistence", "messages", "conversation_seq_unique"},
    {"presence", "sessions", "gateway_connection_unique"},
    {"receipts", "read_states", "conversation_user_unique"},
};

static void service_path(const char *name, char *out, size_t len) {
  snprintf(out, len, "%s/services/%s/chat-%s", CHAT_BINARY_DIR, name, name);
}

static bool has_index(const chat_config_t *cfg, const char *collection_name, const char *index) {
  char why[256];
  chat_mongo_t *mongo = NULL;
  cr_assert_eq(chat_mongo_create(cfg, "lifecycle", &mongo, why, sizeof why), CHAT_OK);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *collection = chat_mongo_collection(mongo, client, collection_name);
  mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(collection, NULL);
  const bson_t *doc;
  bool found = false;
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "name") && strcmp(bson_iter_utf8(&it, NULL), index) == 0)
      found = true;
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(collection);
  chat_mongo_release(mongo, client);
  chat_mongo_destroy(&mongo);
  return found;
}

static bool topics_exist(const chat_config_t *cfg) {
  char why[256];
  chat_consumer_t *probe = NULL;
  chat_producer_t *producer = NULL;
  (void)probe;
  cr_assert_eq(chat_producer_create(cfg, "lifecycle", NULL, NULL, &producer, why, sizeof why),
               CHAT_OK);
  /* Producing to a topic that does not exist fails (auto-creation is off on
   * the test broker), so a delivered record proves the topic is there. */
  bool ok = true;
  for (int i = 0; i < CHAT_TOPIC_COUNT && ok; i++) {
    char topic[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(cfg->topic_prefix, (chat_topic_t)i, topic, sizeof topic);
    ok = chat_producer_produce(producer, topic, "k", 1, "{}", 2, NULL, 0, 0) == CHAT_OK &&
         chat_producer_flush(producer, 20000) == CHAT_OK;
  }
  chat_producer_destroy(&producer, 1000);
  return ok;
}

static void check_service(const service_case_t *svc) {
  char prefix[64], db[64], path[512], env_brokers[600], env_mongo[600], env_prefix[128],
      env_db[128], env_port[64], body[1024];
  chat_config_t cfg;
  stack_unique_name(svc->name, prefix, sizeof prefix);
  snprintf(db, sizeof db, "%s", prefix);
  db[strlen(db) - 1] = '\0';
  stack_config(&cfg, prefix, db, NULL);
  int port = stack_free_port();
  snprintf(env_brokers, sizeof env_brokers, "CHAT_KAFKA_BROKERS=%s", cfg.kafka_brokers);
  snprintf(env_mongo, sizeof env_mongo, "CHAT_MONGO_URI=%s", cfg.mongo_uri);
  snprintf(env_prefix, sizeof env_prefix, "CHAT_TOPIC_PREFIX=%s", prefix);
  snprintf(env_db, sizeof env_db, "CHAT_MONGO_DB=%s", db);
  snprintf(env_port, sizeof env_port, "CHAT_HEALTH_PORT=%d", port);
  char env_gateway_port[64];
  int gateway_port = stack_free_port();
  snprintf(env_gateway_port, sizeof env_gateway_port, "CHAT_GATEWAY_PORT=%d", gateway_port);
  char *const env[] = {env_brokers,
                       env_mongo,
                       env_prefix,
                       env_db,
                       env_port,
                       "CHAT_TOPIC_PARTITIONS=3",
                       env_gateway_port,
                       "CHAT_JWT_SECRET=lifecycle-test-secret-0123456789abcdef",
                       NULL};
  service_path(svc->name, path, sizeof path);
  char *const argv[] = {path, NULL};

  long long started = stack_now_ms();
  pid_t pid = stack_spawn(argv, env, NULL);
  int status = 0;
  while (stack_http_get(port, "/readyz", body, sizeof body) != 200) {
    cr_assert(!stack_wait(pid, 0, &status), "%s exited before it was ready (status %d)", svc->name,
              status);
    cr_assert(stack_now_ms() - started < READY_WITHIN_MS, "%s not ready within %d ms: %s",
              svc->name, READY_WITHIN_MS, body);
    usleep(200 * 1000);
  }
  cr_log_info("%s ready in %lld ms: %s", svc->name, stack_now_ms() - started, body);
  cr_assert(strstr(body, "\"kafka\":\"ok\"") && strstr(body, "\"mongo\":\"ok\""), "%s", body);
  cr_assert_eq(stack_http_get(port, "/healthz", body, sizeof body), 200);
  cr_assert_eq(stack_http_get(port, "/nope", NULL, 0), 404);
  if (strcmp(svc->name, "gateway") == 0) {
    /* Socket.IO answers on its own port: a polling handshake opens a session. */
    cr_assert_eq(
        stack_http_get(gateway_port, "/socket.io/?EIO=4&transport=polling", body, sizeof body),
        200);
    cr_assert(strncmp(body, "0{\"sid\":", 8) == 0, "handshake was: %s", body);
  }
  if (svc->collection)
    cr_assert(has_index(&cfg, svc->collection, svc->index), "%s did not create index %s on %s",
              svc->name, svc->index, svc->collection);
  cr_assert(topics_exist(&cfg), "%s did not create the topics", svc->name);

  long long term_at = stack_now_ms();
  kill(pid, SIGTERM);
  cr_assert(stack_wait(pid, STOP_WITHIN_MS, &status), "%s still running %d ms after SIGTERM",
            svc->name, STOP_WITHIN_MS);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s stopped with status %d", svc->name,
            status);
  cr_log_info("%s stopped %lld ms after SIGTERM", svc->name, stack_now_ms() - term_at);
}

Test(services_lifecycle, gateway_starts_ready_and_stops) { check_service(&services[0]); }
Test(services_lifecycle, persistence_starts_ready_and_stops) { check_service(&services[1]); }
Test(services_lifecycle, presence_starts_ready_and_stops) { check_service(&services[2]); }
Test(services_lifecycle, receipts_starts_ready_and_stops) { check_service(&services[3]); }

Test(services_lifecycle, bad_setting_stops_the_process_naming_the_variable) {
  char path[512];
  int err_pipe[2];
  service_path("persistence", path, sizeof path);
  cr_assert_eq(pipe(err_pipe), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err_pipe[1], STDERR_FILENO);
    setenv("CHAT_TOPIC_PARTITIONS", "many", 1);
    execl(path, path, (char *)NULL);
    _exit(127);
  }
  close(err_pipe[1]);
  char output[4096] = "";
  int status;
  cr_assert(stack_wait(pid, 10000, &status), "a bad setting did not stop the process");
  ssize_t n = read(err_pipe[0], output, sizeof output - 1);
  output[n > 0 ? n : 0] = '\0';
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit status %d", status);
  cr_assert(strstr(output, "CHAT_TOPIC_PARTITIONS=\\\"many\\\" is not a whole number") != NULL,
            "log was: %s", output);
}

Test(services_lifecycle, unreachable_kafka_means_alive_not_ready_and_still_stoppable) {
  char path[512], env_port[64], body[1024];
  int port = stack_free_port(), dead_port = stack_free_port();
  char env_brokers[64];
  snprintf(env_brokers, sizeof env_brokers, "CHAT_KAFKA_BROKERS=127.0.0.1:%d", dead_port);
  snprintf(env_port, sizeof env_port, "CHAT_HEALTH_PORT=%d", port);
  char env_mongo[600];
  snprintf(env_mongo, sizeof env_mongo, "CHAT_MONGO_URI=%s", stack_mongo_uri());
  char *const env[] = {env_brokers, env_port, env_mongo, NULL};
  service_path("receipts", path, sizeof path);
  char *const argv[] = {path, NULL};
  pid_t pid = stack_spawn(argv, env, NULL);
  long long started = stack_now_ms();
  while (stack_http_get(port, "/healthz", NULL, 0) != 200)
    cr_assert(stack_now_ms() - started < 10000, "healthz never answered");
  cr_assert_eq(stack_http_get(port, "/readyz", body, sizeof body), 503);
  cr_assert(strstr(body, "\"kafka\":\"unreachable\"") != NULL, "%s", body);
  kill(pid, SIGTERM);
  int status;
  cr_assert(stack_wait(pid, STOP_WITHIN_MS, &status) && WIFEXITED(status),
            "a service waiting for Kafka did not stop on SIGTERM");
}
