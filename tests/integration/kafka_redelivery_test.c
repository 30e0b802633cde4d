/* At-least-once: a consumer killed before it commits leaves the record to
 * the next member of its group; once a member commits, it is not seen again. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "chat/kafka.h"
#include "stack.h"

static void teardown(void) { stack_kill_all(); }

TestSuite(kafka_redelivery, .fini = teardown, .timeout = 180);

/* Runs kafka_tool consume in a child; returns its pid and the first line. */
static pid_t spawn_consumer(char *const env[], const char *group, const char *mode, char *line,
                            size_t line_len) {
  int out_fd;
  char *const argv[] = {CHAT_KAFKA_TOOL, "consume", (char *)group, "chat.commands", "1",
                        (char *)mode,    NULL};
  pid_t pid = stack_spawn(argv, env, &out_fd);
  cr_assert(stack_read_line(out_fd, line, line_len, 90000), "consumer (%s) got nothing", mode);
  return pid;
}

static void produce(const chat_config_t *cfg, const char *value) {
  chat_producer_t *producer = NULL;
  char why[512], topic[CHAT_TOPIC_NAME_MAX];
  cr_assert_eq(chat_producer_create(cfg, "redelivery", NULL, NULL, &producer, why, sizeof why),
               CHAT_OK, "%s", why);
  chat_topic_name(cfg->topic_prefix, CHAT_TOPIC_COMMANDS, topic, sizeof topic);
  /* One key, so both records land in one partition, in order. */
  cr_assert_eq(chat_producer_produce(producer, topic, "k", 1, value, strlen(value), NULL, 0, 1),
               CHAT_OK);
  cr_assert_eq(chat_producer_flush(producer, 30000), CHAT_OK);
  chat_producer_destroy(&producer, 1000);
}

Test(kafka_redelivery, uncommitted_record_is_redelivered_after_a_kill) {
  char prefix[64], group[128], line[512];
  chat_config_t cfg;
  stack_unique_name("rd", prefix, sizeof prefix);
  stack_config(&cfg, prefix, "redelivery", NULL);
  chat_producer_t *admin = stack_producer_with_topics(&cfg, "redelivery-admin");
  chat_producer_destroy(&admin, 1000);
  produce(&cfg, "first");

  char env_brokers[600], env_prefix[128];
  snprintf(env_brokers, sizeof env_brokers, "CHAT_KAFKA_BROKERS=%s", cfg.kafka_brokers);
  snprintf(env_prefix, sizeof env_prefix, "CHAT_TOPIC_PREFIX=%s", prefix);
  /* A short session, so the group notices the killed member soon. */
  char *const env[] = {env_brokers, env_prefix,
                       "CHAT_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=1000",
                       NULL};
  snprintf(group, sizeof group, "%sredelivery", prefix);

  pid_t holder = spawn_consumer(env, group, "hold", line, sizeof line);
  cr_assert(strstr(line, " first") != NULL, "first consumer got: %s", line);
  char first_line[512];
  snprintf(first_line, sizeof first_line, "%s", line);
  kill(holder, SIGKILL);
  int status;
  cr_assert(stack_wait(holder, 10000, &status) && WIFSIGNALED(status));

  pid_t committer = spawn_consumer(env, group, "commit", line, sizeof line);
  cr_assert_str_eq(line, first_line, "the record was not redelivered as it was");
  cr_assert(stack_wait(committer, 30000, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "the committing consumer failed");

  produce(&cfg, "second");
  pid_t next = spawn_consumer(env, group, "commit", line, sizeof line);
  cr_assert(strstr(line, " second") != NULL, "after the commit, the group read: %s", line);
  cr_assert(stack_wait(next, 30000, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
