#include "chat/emoji.h"

#include <stdint.h>

#include "chat/limits.h"

#define ZWJ 0x200D            /* zero-width joiner: glues two pictographs into one */
#define KEYCAP 0x20E3         /* combining enclosing keycap: "1" + FE0F + 20E3 = 1️⃣ */
#define PRESENTATION 0xFE0F   /* variation selector 16: show as emoji */
#define TEXT_PRESENTATION 0xFE0E /* variation selector 15: show as text */

typedef enum codepoint_kind {
  KIND_NONE,     /* not part of any emoji */
  KIND_PICTO,    /* a pictograph that starts an emoji */
  KIND_KEYCAP_BASE, /* '#', '*' or a digit: only before a keycap mark */
  KIND_MODIFIER, /* follows a pictograph: skin tone, variation selector, tag, keycap mark */
  KIND_JOINER,   /* between two pictographs */
} codepoint_kind_t;

static codepoint_kind_t kind_of(uint32_t cp) {
  if (cp == '#' || cp == '*' || (cp >= '0' && cp <= '9'))
    return KIND_KEYCAP_BASE;
  if (cp == ZWJ)
    return KIND_JOINER;
  if ((cp >= 0x1F3FB && cp <= 0x1F3FF) || cp == PRESENTATION || cp == TEXT_PRESENTATION ||
      cp == KEYCAP || (cp >= 0xE0020 && cp <= 0xE007F))
    return KIND_MODIFIER;
  if ((cp >= 0x1F000 && cp <= 0x1FAFF) || /* faces, hands, objects, flags' letters */
      (cp >= 0x2190 && cp <= 0x21FF) ||   /* arrows ↔ */
      (cp >= 0x2300 && cp <= 0x23FF) ||   /* misc technical ⌚ ⏰ */
      (cp >= 0x25A0 && cp <= 0x25FF) ||   /* geometric shapes ▶ */
      (cp >= 0x2600 && cp <= 0x27BF) ||   /* misc symbols and dingbats ☀ ✅ ❤ */
      (cp >= 0x2900 && cp <= 0x297F) ||   /* supplemental arrows ⤴ */
      (cp >= 0x2B00 && cp <= 0x2BFF) ||   /* misc symbols and arrows ⭐ ⬆ */
      cp == 0x00A9 || cp == 0x00AE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 ||
      cp == 0x2139 || cp == 0x24C2 || cp == 0x3030 || cp == 0x303D || cp == 0x3297 ||
      cp == 0x3299)
    return KIND_PICTO;
  return KIND_NONE;
}

/* A regional indicator letter: two of them make a flag (🇫🇷 is F R). */
static bool is_regional(uint32_t cp) { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }

/* Decodes one codepoint of well-formed UTF-8 at *p (before end) and moves
 * *p past it; false on a malformed, overlong or surrogate sequence. */
static bool next_codepoint(const unsigned char **p, const unsigned char *end, uint32_t *cp) {
  unsigned char lead = **p;
  size_t extra;
  uint32_t min;
  if (lead < 0x80) {
    *cp = lead, extra = 0, min = 0;
  } else if ((lead & 0xE0) == 0xC0) {
    *cp = lead & 0x1Fu, extra = 1, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    *cp = lead & 0x0Fu, extra = 2, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    *cp = lead & 0x07u, extra = 3, min = 0x10000;
  } else {
    return false;
  }
  if ((size_t)(end - *p) < extra + 1)
    return false;
  for (size_t i = 1; i <= extra; i++) {
    if (((*p)[i] & 0xC0) != 0x80)
      return false;
    *cp = (*cp << 6) | ((*p)[i] & 0x3Fu);
  }
  *p += extra + 1;
  return *cp >= min && *cp <= 0x10FFFF && !(*cp >= 0xD800 && *cp <= 0xDFFF);
}

bool chat_emoji_is_valid(const char *text, size_t len) {
  if (!text || len == 0 || len > CHAT_EMOJI_MAX)
    return false;
  const unsigned char *p = (const unsigned char *)text, *end = p + len;
  codepoint_kind_t previous = KIND_NONE;
  uint32_t cp = 0, previous_cp = 0;
  bool first = true, keycap_pending = false;
  while (p < end) {
    if (!next_codepoint(&p, end, &cp))
      return false;
    codepoint_kind_t kind = kind_of(cp);
    if (kind == KIND_NONE)
      return false;
    if (first) {
      if (kind != KIND_PICTO && kind != KIND_KEYCAP_BASE)
        return false;
      keycap_pending = kind == KIND_KEYCAP_BASE;
    } else if (kind == KIND_KEYCAP_BASE) {
      return false; /* a digit or '#' only starts a keycap */
    } else if (kind == KIND_PICTO && previous != KIND_JOINER &&
               !(is_regional(cp) && is_regional(previous_cp))) {
      return false; /* two pictographs are one emoji only joined (or a flag's two letters) */
    } else if (kind == KIND_JOINER && previous != KIND_PICTO && previous != KIND_MODIFIER) {
      return false;
    } else if (keycap_pending && cp != PRESENTATION && cp != KEYCAP) {
      return false;
    }
    if (cp == KEYCAP)
      keycap_pending = false;
    first = false;
    previous = kind;
    previous_cp = cp;
  }
  return previous != KIND_JOINER && !keycap_pending;
}
