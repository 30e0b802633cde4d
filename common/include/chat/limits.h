/* The protocol's limits, as proto/ fixes them (its JSON schemas'
 * maxLength / maxItems, proto/openapi.yaml's request bodies): one place
 * for the gateway that checks what clients send and the services that
 * check the commands they read. tests/proto/check_limits.py compares
 * every number here with the schemas. Lengths are in bytes. */
#ifndef CHAT_LIMITS_H
#define CHAT_LIMITS_H

#define CHAT_CLIENT_MSG_ID_MAX 128    /* a message's clientMsgId */
#define CHAT_CONTENT_MAX 65536        /* a message's content (the gateway's setting is smaller) */
#define CHAT_ATTACHMENT_URL_MAX 2048  /* a message's attachmentUrl */
#define CHAT_GROUP_NAME_MAX 100       /* a group's name */
#define CHAT_GROUP_MEMBERS_MAX 1000   /* user ids in one group creation or member addition */
#define CHAT_USERNAME_MIN 3           /* an account's username, shortest */
#define CHAT_USERNAME_MAX 32          /* an account's username, longest */
#define CHAT_PASSWORD_MIN 8           /* an account's password, shortest */
#define CHAT_PASSWORD_MAX 128         /* an account's password, longest */
#define CHAT_GUEST_FIELD_MAX 32       /* a guest's name, a guest room's name */
#define CHAT_EMOJI_MAX 32             /* a reaction's emoji, in UTF-8 bytes (chat/emoji.h) */
#define CHAT_REACTIONS_DISTINCT_MAX 20 /* distinct emoji on one message; a 21st is refused */

#endif
