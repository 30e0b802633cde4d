/* Conversation summaries written behind the messages. A conversation's
 * summary (lastSeq, last message, its time, the reply window) is what the
 * conversation list, the unread counts and the next owner's load read; the
 * messages themselves are the truth (conversation_state.h: lastSeq may be
 * behind the stored messages, never ahead). So a run of sends does not
 * wait for its summaries: it posts the conversation's newest summary here
 * and goes on, and writer threads, each with a pooled MongoDB client of
 * its own, write them one update_one at a time (FerretDB 1.24 wedges on an
 * update command of 50 or more statements), concurrently (on PostgreSQL
 * each is a commit of its own, and concurrent commits share WAL flushes).
 *
 * Coalesced and spaced: a conversation has at most one summary waiting
 * and one being written, and a newer post replaces the waiting one. A
 * conversation not written in the last interval_ms is written at once; one
 * written less than that ago waits until interval_ms after it, so a hot
 * conversation costs at most one write per interval, not one per run,
 * while a quiet one's list entry follows each message. Never backwards:
 * the update only moves a stored lastSeq forward. A failed write is tried
 * again (a newer post supersedes it). Bounded: past capacity conversations
 * (waiting, or written less than an interval ago), a post waits for room.
 *
 * Who reads it before the store has it: the partition owner's load of a
 * conversation it dropped from its cache takes the newest posted summary
 * (summary_writer_latest) over the stored one. A revocation and a
 * shutdown wait for all of them (summary_writer_drain), so the next owner
 * reads what this one wrote. Only a crash leaves summaries behind; the
 * next owner's load walks lastSeq forward over the stored messages. */
#ifndef PERSISTENCE_SUMMARY_WRITER_H
#define PERSISTENCE_SUMMARY_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"
#include "chat/ids.h"
#include "chat/mongo.h"
#include "reply_window.h"

#define SUMMARY_PREVIEW_MAX 200 /* bytes of content kept as the last message */

typedef struct conversation_summary {
  char id[CHAT_ID_SIZE];
  int64_t last_seq;
  int64_t last_at; /* ms */
  char preview[SUMMARY_PREVIEW_MAX + 1];
  uint32_t preview_len;
  bool awaiting_changed; /* awaiting is written only then */
  awaiting_t awaiting[2];
} conversation_summary_t;

/* Fills summary's preview from content: at most SUMMARY_PREVIEW_MAX
 * bytes, cut at a UTF-8 character boundary. */
void conversation_summary_set_preview(conversation_summary_t *summary, const char *content,
                                      uint32_t len);

/* Starts writers threads writing to mongo's "conversations" collection,
 * holding at most capacity conversations. A conversation not written
 * lately is written at once; after a write, the next waits interval_ms,
 * and what comes meanwhile is coalesced. A conversation with a new
 * summary in every wait waits twice as long the next time, up to
 * interval_max_ms (>= interval_ms); one quiet for a whole wait starts
 * again at interval_ms. Returns CHAT_OK or CHAT_ERR_NOMEM /
 * CHAT_ERR_INTERNAL (no thread, or interval_max_ms < interval_ms). One
 * writer per process. */
chat_err_t summary_writer_start(chat_mongo_t *mongo, size_t writers, size_t capacity,
                                int interval_ms, int interval_max_ms);

/* Hands summary over (copied), coalescing it with what waits for its
 * conversation. Waits while the writer is full. */
void summary_writer_post(const conversation_summary_t *summary);

/* The newest summary posted for conversation id, written or not, into
 * *out; false when none was posted lately (the store has the newest). */
bool summary_writer_latest(const char *id, conversation_summary_t *out);

/* Waits until nothing waits or is being written at all, or timeout_ms
 * passed. Returns whether all was written. */
bool summary_writer_drain(int timeout_ms);

/* Drains for up to timeout_ms, then stops the threads; what still waits
 * is logged and left (the next owner's load walks lastSeq forward). */
void summary_writer_stop(int timeout_ms);

#endif
