/* Which conversations newly connected sockets belong to, asked of MongoDB
 * for many sockets at once (rooms_lookup.c). Loop thread only. */
#ifndef GATEWAY_ROOMS_LOOKUP_H
#define GATEWAY_ROOMS_LOOKUP_H

#include "gateway.h"
#include "socket_state.h"

typedef struct rooms_lookup rooms_lookup_t;

/* Called on the loop for each socket still connected once its rooms are
 * joined (or could not be looked up): the socket's lifecycle, above this
 * module, handles what it held meanwhile. */
typedef void (*rooms_lookup_ready_fn)(gateway_t *gw, gateway_socket_t *state);

/* Returns an empty lookup for gw that calls on_ready, or NULL when out of
 * memory. */
rooms_lookup_t *rooms_lookup_create(gateway_t *gw, rooms_lookup_ready_fn on_ready);

/* state (connected) joins the rooms of its user's conversations once
 * MongoDB has said which, looked up with other new sockets' in one query;
 * then it resumes if it asked to. Holds a reference on state meanwhile. */
void rooms_lookup_add(rooms_lookup_t *lookup, gateway_socket_t *state);

/* At shutdown, after the loop is gone: lets go of the sockets still
 * waiting and frees; sets *lookup to NULL. */
void rooms_lookup_destroy(rooms_lookup_t **lookup);

#endif
