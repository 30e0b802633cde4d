/* Which sockets of this gateway are in which room. A room is named like
 * the broadcast target that reaches it ("room:<conversationId>",
 * "user:<userId>"), so delivering a chat.broadcast record is a lookup of
 * its target header. Loop thread only; sockets are opaque here. */
#ifndef GATEWAY_ROOMS_H
#define GATEWAY_ROOMS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rooms rooms_t;

/* Returns an empty registry, or NULL when out of memory. */
rooms_t *rooms_create(void);

/* Frees the registry (not the sockets); sets *rooms to NULL. */
void rooms_destroy(rooms_t **rooms);

/* Puts member in room; joining twice is one membership. Returns false when
 * out of memory. */
bool rooms_join(rooms_t *rooms, const char *room, void *member);

/* Takes member out of room; a room left empty is freed. */
void rooms_leave(rooms_t *rooms, const char *room, void *member);

/* Calls fn(ctx, member) for each member of room (fn may be NULL: just
 * count); returns how many. fn must not join or leave rooms. */
size_t rooms_each(const rooms_t *rooms, const char *room, void (*fn)(void *ctx, void *member),
                  void *ctx);

/* The number of rooms that have members. */
size_t rooms_count(const rooms_t *rooms);

#endif
