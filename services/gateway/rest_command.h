/* REST calls that wait for a command's result: the route produces a
 * command with a correlation id, and the call is answered when the
 * command.result with that id comes back (rest_pending.h): ok_status with
 * {success, message?, data}, or the error's code mapped to a status; 504
 * after REST_COMMAND_TIMEOUT_MS, 503 when the command cannot be produced.
 * Every route that waits for a command goes through here. */
#ifndef GATEWAY_REST_COMMAND_H
#define GATEWAY_REST_COMMAND_H

#include <stdint.h>

#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/topics.h"
#include "gateway.h"

#define REST_COMMAND_TIMEOUT_MS 10000 /* the service must answer a command within this */

typedef struct rest_command rest_command_t;

/* A call about to produce its command, answered with ok_status and
 * ok_message (the "message" beside data, or NULL; static) on success.
 * correlation_id NULL: a fresh one. Returns NULL when out of memory
 * (rest_command_wait answers 503 then). */
rest_command_t *rest_command_new(uint64_t request_id, const char *correlation_id, int ok_status,
                                 const char *ok_message);

/* The correlation id the command must carry. */
const char *rest_command_correlation_id(const rest_command_t *call);

/* Waits for the result of call's command, whose produce returned
 * produced; answers 503 at once when call is NULL or produced is not
 * CHAT_OK. Takes call. */
void rest_command_wait(gateway_t *gw, uint64_t request_id, rest_command_t *call,
                       chat_err_t produced);

/* Starts env as a command of type with a fresh correlation id. Returns
 * what chat_envelope_init() returns. */
chat_err_t rest_command_init(gateway_t *gw, const char *type, chat_envelope_t *env);

/* Produces env (from rest_command_init; cleans it up) to topic with key
 * and waits for its result. */
void rest_command_run(gateway_t *gw, uint64_t request_id, chat_topic_t topic, chat_envelope_t *env,
                      const char *key, int ok_status, const char *ok_message);

#endif
