#include "rooms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_BUCKETS 4096 /* hash buckets; rooms chain within one */

typedef struct room {
  struct room *next;
  void **members;
  size_t count, capacity;
  char name[]; /* NUL-terminated */
} room_t;

struct rooms {
  room_t *buckets[ROOM_BUCKETS];
  size_t count;
};

static size_t bucket_of(const char *name) {
  uint32_t h = 2166136261u;
  for (const char *p = name; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return h % ROOM_BUCKETS;
}

static room_t **find(rooms_t *rooms, const char *name) {
  room_t **link = &rooms->buckets[bucket_of(name)];
  while (*link && strcmp((*link)->name, name) != 0)
    link = &(*link)->next;
  return link;
}

rooms_t *rooms_create(void) { return calloc(1, sizeof(rooms_t)); }

void rooms_destroy(rooms_t **rooms_ptr) {
  rooms_t *rooms = rooms_ptr ? *rooms_ptr : NULL;
  if (!rooms)
    return;
  for (size_t i = 0; i < ROOM_BUCKETS; i++) {
    while (rooms->buckets[i]) {
      room_t *room = rooms->buckets[i];
      rooms->buckets[i] = room->next;
      free(room->members);
      free(room);
    }
  }
  free(rooms);
  *rooms_ptr = NULL;
}

bool rooms_join(rooms_t *rooms, const char *name, void *member) {
  room_t **link = find(rooms, name);
  room_t *room = *link;
  if (!room) {
    size_t len = strlen(name);
    room = calloc(1, sizeof *room + len + 1);
    if (!room)
      return false;
    memcpy(room->name, name, len + 1);
    *link = room;
    rooms->count++;
  }
  for (size_t i = 0; i < room->count; i++) {
    if (room->members[i] == member)
      return true;
  }
  if (room->count == room->capacity) {
    size_t capacity = room->capacity ? room->capacity * 2 : 4;
    void **grown = realloc(room->members, capacity * sizeof *grown);
    if (!grown)
      return false;
    room->members = grown;
    room->capacity = capacity;
  }
  room->members[room->count++] = member;
  return true;
}

void rooms_leave(rooms_t *rooms, const char *name, void *member) {
  room_t **link = find(rooms, name);
  room_t *room = *link;
  if (!room)
    return;
  for (size_t i = 0; i < room->count; i++) {
    if (room->members[i] == member) {
      room->members[i] = room->members[--room->count]; /* order does not matter */
      break;
    }
  }
  if (room->count == 0) {
    *link = room->next;
    free(room->members);
    free(room);
    rooms->count--;
  }
}

size_t rooms_each(const rooms_t *rooms, const char *name, void (*fn)(void *ctx, void *member),
                  void *ctx) {
  room_t *room = *find((rooms_t *)rooms, name);
  if (!room)
    return 0;
  for (size_t i = 0; fn && i < room->count; i++)
    fn(ctx, room->members[i]);
  return room->count;
}

size_t rooms_count(const rooms_t *rooms) { return rooms->count; }
