/* Helpers for integration tests against the real Kafka and FerretDB that
 * tests/run.sh starts: where they are, unique names per test, child
 * processes that are always stopped, and a tiny HTTP GET. */
#ifndef CHAT_TEST_STACK_H
#define CHAT_TEST_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "chat/config.h"
#include "chat/kafka.h"

/* CHAT_TEST_KAFKA_BROKERS / CHAT_TEST_MONGO_URI; the test fails when unset. */
const char *stack_kafka_brokers(void);
const char *stack_mongo_uri(void);

/* Writes a name unique to this run and call into out, e.g. "it-1234-3-". */
void stack_unique_name(const char *stem, char *out, size_t out_len);

/* Fills cfg as a service would load it, pointed at the test stack with the
 * given topic prefix and database, plus extra "NAME", "value" pairs
 * (NULL-terminated; may be NULL). */
void stack_config(chat_config_t *cfg, const char *topic_prefix, const char *mongo_db,
                  const char *const *extra);

/* A producer on cfg named client_id, once every topic of cfg exists
 * (asserted). Destroy it with chat_producer_destroy(). */
chat_producer_t *stack_producer_with_topics(const chat_config_t *cfg, const char *client_id);

/* A free TCP port on 127.0.0.1 below the ephemeral range, not handed out
 * before by this process. */
int stack_free_port(void);

/* Starts argv[0] with the current environment plus env ("NAME=value",
 * NULL-terminated; may be NULL). With stdout_fd non-NULL the child's stdout
 * is a pipe whose read end is returned there. The child dies with the test
 * (PR_SET_PDEATHSIG) and stack_kill_all() stops whatever is left. */
pid_t stack_spawn(char *const argv[], char *const env[], int *stdout_fd);

/* Waits up to timeout_ms for pid. Returns true with *status set when it
 * exited in time. */
bool stack_wait(pid_t pid, int timeout_ms, int *status);

/* SIGKILLs and reaps every child still running; for test teardown. */
void stack_kill_all(void);

/* Reads one line (without its newline) from fd within timeout_ms. Returns
 * false on timeout or end of file. */
bool stack_read_line(int fd, char *out, size_t out_len, int timeout_ms);

/* GET http://127.0.0.1:port/path; returns the status code, or 0 when nothing
 * answered. body (may be NULL) gets the start of the body. */
int stack_http_get(int port, const char *path, char *body, size_t body_len);

/* Milliseconds on a monotonic clock. */
long long stack_now_ms(void);

#endif
