#include "chat/err.h"

const char *chat_strerror(chat_err_t err) {
  switch (err) {
#define CHAT_ERR_MSG_(name, code, msg)                                                             \
  case CHAT_ERR_##name:                                                                            \
    return msg;
    CHAT_ERR_MAP(CHAT_ERR_MSG_)
#undef CHAT_ERR_MSG_
  case CHAT_ERR_COUNT_:
    break;
  }
  return "unknown error";
}

const char *chat_err_code(chat_err_t err) {
  switch (err) {
#define CHAT_ERR_CODE_(name, code, msg)                                                            \
  case CHAT_ERR_##name:                                                                            \
    return code;
    CHAT_ERR_MAP(CHAT_ERR_CODE_)
#undef CHAT_ERR_CODE_
  case CHAT_ERR_COUNT_:
    break;
  }
  return "UNKNOWN";
}
