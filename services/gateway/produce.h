/* The gateway's one way to put an envelope on a topic. */
#ifndef GATEWAY_PRODUCE_H
#define GATEWAY_PRODUCE_H

#include <stdint.h>

#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/topics.h"
#include "gateway.h"

/* Encodes env (and cleans it up) and produces it to the prefixed topic
 * with key; the delivery report comes back with request_id (0: none
 * wanted). Returns what chat_producer_produce() returns. */
chat_err_t gateway_produce(gateway_t *gw, chat_topic_t topic, chat_envelope_t *env, const char *key,
                           uint64_t request_id);

#endif
