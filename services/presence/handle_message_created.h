/* Push for offline members (issue 21): presence reads message.created
 * from chat.events and, for the members of the message's conversation
 * who have no live session, publishes notification.requested on
 * chat.events for a push service (APNs, FCM) to consume
 * (docs/architecture.md, "Push for offline members"). */
#ifndef PRESENCE_HANDLE_MESSAGE_CREATED_H
#define PRESENCE_HANDLE_MESSAGE_CREATED_H

#include "chat/dispatch.h"
#include "chat/runtime.h"

#define PUSH_MAX_AGE_MS (10 * 60 * 1000) /* a message older than this when read gets no push */
#define PUSH_CLAIM_MARGIN_MS (5 * 60 * 1000) /* claims kept past that age, for clock skew */
#define PUSH_PRUNE_EVERY_MS (30 * 1000)    /* how often old claims are deleted */

/* A chat_event_fn for message.created; ctx is the chat_runtime_t. Once
 * per message: the offline members are recorded in notification_requests
 * under the message's id before the event is produced, so a redelivered
 * message.created (or a message.send persistence handles again) finds
 * that record and publishes nothing. */
chat_err_t presence_handle_message_created(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record);

/* The tick's part: at most every PUSH_PRUNE_EVERY_MS, deletes the claims
 * of messages older than PUSH_MAX_AGE_MS + PUSH_CLAIM_MARGIN_MS. A
 * redelivery of those is dropped by its age before any claim is looked
 * at, so they dedupe nothing any more, and notification_requests holds
 * only the last quarter of an hour. */
void presence_prune_notification_requests(chat_runtime_t *rt);

#endif
