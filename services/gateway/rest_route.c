#include "rest_route.h"

#include <string.h>

bool rest_path_match(const char *pattern, const char *path, rest_params_t *params) {
  size_t param = 0;
  memset(params, 0, sizeof *params);
  while (*pattern && *path) {
    if (*pattern == ':') {
      const char *end = strchr(path, '/');
      size_t len = end ? (size_t)(end - path) : strlen(path);
      if (len == 0 || len >= REST_PARAM_MAX || param >= REST_PARAMS_MAX)
        return false;
      memcpy(params->values[param++], path, len);
      path += len;
      while (*pattern && *pattern != '/')
        pattern++;
      continue;
    }
    if (*pattern++ != *path++)
      return false;
  }
  return !*pattern && !*path;
}
