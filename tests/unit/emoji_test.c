/* What a reaction's emoji may be (common/include/chat/emoji.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/emoji.h"
#include "chat/limits.h"

static bool valid(const char *text) { return chat_emoji_is_valid(text, strlen(text)); }

Test(emoji, single_pictographs) {
  cr_assert(valid("\xF0\x9F\x91\x8D"));         /* 👍 U+1F44D */
  cr_assert(valid("\xE2\x9D\xA4"));             /* ❤ U+2764, text style */
  cr_assert(valid("\xE2\x9D\xA4\xEF\xB8\x8F")); /* ❤️ with U+FE0F */
  cr_assert(valid("\xE2\xAD\x90"));             /* ⭐ U+2B50 */
  cr_assert(valid("\xF0\x9F\x98\x82"));         /* 😂 */
  cr_assert(valid("\xF0\x9F\xAB\xA0"));         /* 🫠 U+1FAE0, a recent one */
}

Test(emoji, sequences_that_render_as_one) {
  cr_assert(valid("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"));         /* 👍🏽 skin tone */
  cr_assert(valid("\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"));         /* 🇫🇷 two regional letters */
  cr_assert(valid("1\xEF\xB8\x8F\xE2\x83\xA3"));                /* 1️⃣ keycap */
  cr_assert(valid("#\xE2\x83\xA3"));                            /* #⃣ keycap without FE0F */
  cr_assert(valid("\xE2\x9D\xA4\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x94\xA5")); /* ❤️‍🔥 */
  /* 👨‍👩‍👧‍👦: four people, three joiners, 25 bytes */
  cr_assert(valid("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
                  "\xE2\x80\x8D\xF0\x9F\x91\xA6"));
  /* 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland: a black flag, tag letters and a cancel tag, 28 bytes */
  cr_assert(valid("\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xB3\xF3\xA0\x81"
                  "\xA3\xF3\xA0\x81\xB4\xF3\xA0\x81\xBF"));
}

Test(emoji, text_and_empty_are_not_emoji) {
  cr_assert_not(chat_emoji_is_valid("", 0));
  cr_assert_not(chat_emoji_is_valid(NULL, 0));
  cr_assert_not(valid("+1"));
  cr_assert_not(valid("a"));
  cr_assert_not(valid("1"));         /* a digit alone is no keycap */
  cr_assert_not(valid("1\xEF\xB8\x8F")); /* nor with only the selector */
  cr_assert_not(valid(" \xF0\x9F\x91\x8D"));
  cr_assert_not(valid("\xF0\x9F\x91\x8D "));
  cr_assert_not(valid("\xF0\x9F\x91\x8D\n"));
  cr_assert_not(valid("\xE4\xB8\xAD")); /* 中: a letter, not a pictograph */
  cr_assert_not(valid("<script>"));
}

Test(emoji, two_emoji_are_not_one) {
  cr_assert_not(valid("\xF0\x9F\x91\x8D\xF0\x9F\x91\x8D")); /* 👍👍 */
  cr_assert_not(valid("\xF0\x9F\x91\x8D" "1\xE2\x83\xA3"));  /* 👍1⃣ */
}

Test(emoji, modifiers_and_joiners_never_stand_alone) {
  cr_assert_not(valid("\xF0\x9F\x8F\xBD"));                         /* a skin tone alone */
  cr_assert_not(valid("\xEF\xB8\x8F"));                             /* FE0F alone */
  cr_assert_not(valid("\xE2\x80\x8D\xF0\x9F\x91\x8D"));             /* a leading joiner */
  cr_assert_not(valid("\xF0\x9F\x91\x8D\xE2\x80\x8D"));             /* a trailing joiner */
  cr_assert_not(valid("\xF0\x9F\x91\xA8\xE2\x80\x8D\xE2\x80\x8D\xF0\x9F\x91\xA9")); /* doubled */
}

Test(emoji, malformed_utf8_is_refused) {
  cr_assert_not(valid("\xF0\x9F\x91"));             /* cut short */
  cr_assert_not(valid("\xC0\xA3"));                 /* overlong '#' */
  cr_assert_not(valid("\xED\xA0\xBD\xED\xB1\x8D")); /* CESU-8 surrogates of 👍 */
  cr_assert_not(valid("\xF8\x88\x80\x80\x80"));     /* a five-byte form */
  cr_assert_not(valid("\xFF"));
  cr_assert_not(chat_emoji_is_valid("\xF0\x9F\x91\x8D\0", 5)); /* a NUL inside */
}

Test(emoji, at_most_chat_emoji_max_bytes) {
  /* 👨 then (ZWJ 👨) repeated: 4 + 7k bytes; 32 bytes fit 4 people (25), 39 do not. */
  char text[64] = "\xF0\x9F\x91\xA8";
  size_t len = 4;
  while (len + 7 <= CHAT_EMOJI_MAX) {
    memcpy(text + len, "\xE2\x80\x8D\xF0\x9F\x91\xA8", 7);
    len += 7;
  }
  cr_assert(chat_emoji_is_valid(text, len));
  memcpy(text + len, "\xE2\x80\x8D\xF0\x9F\x91\xA8", 7);
  cr_assert_not(chat_emoji_is_valid(text, len + 7));
}
