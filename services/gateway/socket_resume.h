/* Resume after a reconnect (socket_resume.c): a client that reconnects
 * with auth.lastSeqs ({conversationId: last seq seen}) first gets what it
 * missed, in order, as new_message, then the live messages held
 * meanwhile, without repeats, then a "resumed" event. */
#ifndef GATEWAY_SOCKET_RESUME_H
#define GATEWAY_SOCKET_RESUME_H

#include <bson/bson.h>
#include <stdbool.h>

#include "gateway.h"
#include "socket_state.h"

/* The sockets waiting for the read of what they missed (the loop's side;
 * one job at a time reads for a batch of them). */
resume_queue_t *gateway_resume_queue_create(gateway_t *gw);

/* Lets go of the sockets still waiting (after the server's sockets are
 * gone); sets *queue NULL. Accepts NULL. */
void gateway_resume_queue_destroy(resume_queue_t **queue);

/* Reads auth.lastSeqs (auth may be NULL) into state->resume; nothing when
 * there is none. Returns NULL, or the CONNECT_ERROR message (static) when
 * it is malformed or memory runs out. */
const char *gateway_resume_read(gateway_socket_t *state, const bson_t *auth);

/* Starts the replay of state->resume (which must be set) once the socket
 * has joined its rooms: live frames of its conversations are held from
 * now on, and the read waits its turn in gw->resumes; holds a reference on
 * state until it is done. Never refused: when memory runs out the socket
 * hears "resumed" with hasMore at once (the rest from history). */
void gateway_resume_start(gateway_t *gw, gateway_socket_t *state);

/* During a replay: keeps frame (a live message of conversation_id, with
 * its seq header or NULL) to send after the replay. false when it is not
 * held and is to be sent now. state->resume must be set. */
bool gateway_resume_hold(gateway_socket_t *state, const char *conversation_id, const char *seq,
                         const char *frame);

/* Lets go of state->resume (at disconnect); a replay in flight frees it
 * when it comes back. */
void gateway_resume_free(gateway_socket_t *state);

#endif
