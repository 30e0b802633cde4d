/* What a reaction's emoji may be. A client reacts with one emoji as
 * people see it: a single pictograph ("👍"), or a sequence that renders as
 * one (a skin tone "👍🏽", a ZWJ family "👨‍👩‍👧", a flag "🇫🇷", a keycap "1️⃣"),
 * in UTF-8, of 1 to CHAT_EMOJI_MAX bytes (chat/limits.h). Text, control
 * characters, whitespace and a modifier on its own are not emoji: the
 * gateway refuses them, and persistence checks again what it reads from
 * Kafka. The rule is deliberately a set of Unicode blocks, not the full
 * emoji data files: what it accepts renders as a pictograph on every
 * current platform, and a new emoji in those blocks needs no update here. */
#ifndef CHAT_EMOJI_H
#define CHAT_EMOJI_H

#include <stdbool.h>
#include <stddef.h>

/* True when the len bytes at text (no NUL needed) are one valid emoji:
 * well-formed UTF-8 of 1 to CHAT_EMOJI_MAX bytes, whose first codepoint is
 * a pictograph (or a keycap's '#', '*', '0'-'9' followed by U+FE0F or
 * U+20E3 and ending in U+20E3), and whose others are pictographs, skin
 * tones, variation selectors, tags (subdivision flags), the keycap mark
 * or a zero-width joiner between two pictographs. */
bool chat_emoji_is_valid(const char *text, size_t len);

#endif
