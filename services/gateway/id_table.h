/* A map from 64-bit request ids to pointers: what waits for a Kafka
 * delivery report. Ids come from one counter, so they hash well as they
 * are. Loop thread only. */
#ifndef GATEWAY_ID_TABLE_H
#define GATEWAY_ID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct id_table id_table_t;

/* Returns an empty table, or NULL when out of memory. */
id_table_t *id_table_create(void);

/* Frees the table, calling free_value on each value left (may be NULL);
 * sets *table to NULL. */
void id_table_destroy(id_table_t **table, void (*free_value)(void *value));

/* Adds id -> value; id must not be in the table. false when out of memory. */
bool id_table_put(id_table_t *table, uint64_t id, void *value);

/* Removes id and returns its value, or NULL when absent. */
void *id_table_take(id_table_t *table, uint64_t id);

size_t id_table_count(const id_table_t *table);

#endif
