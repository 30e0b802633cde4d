#include "id_table.h"

#include <stdlib.h>

#define ID_TABLE_BUCKETS 4096 /* a power of two */

typedef struct entry {
  struct entry *next;
  uint64_t id;
  void *value;
} entry_t;

struct id_table {
  entry_t *buckets[ID_TABLE_BUCKETS];
  size_t count;
};

id_table_t *id_table_create(void) { return calloc(1, sizeof(id_table_t)); }

void id_table_destroy(id_table_t **table_ptr, void (*free_value)(void *value)) {
  id_table_t *table = table_ptr ? *table_ptr : NULL;
  if (!table)
    return;
  for (size_t i = 0; i < ID_TABLE_BUCKETS; i++) {
    for (entry_t *e = table->buckets[i], *next; e; e = next) {
      next = e->next;
      if (free_value)
        free_value(e->value);
      free(e);
    }
  }
  free(table);
  *table_ptr = NULL;
}

bool id_table_put(id_table_t *table, uint64_t id, void *value) {
  entry_t *e = malloc(sizeof *e);
  if (!e)
    return false;
  entry_t **bucket = &table->buckets[id & (ID_TABLE_BUCKETS - 1)];
  *e = (entry_t){*bucket, id, value};
  *bucket = e;
  table->count++;
  return true;
}

void *id_table_take(id_table_t *table, uint64_t id) {
  for (entry_t **link = &table->buckets[id & (ID_TABLE_BUCKETS - 1)]; *link;
       link = &(*link)->next) {
    if ((*link)->id == id) {
      entry_t *e = *link;
      void *value = e->value;
      *link = e->next;
      free(e);
      table->count--;
      return value;
    }
  }
  return NULL;
}

size_t id_table_count(const id_table_t *table) { return table->count; }
