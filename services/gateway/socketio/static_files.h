/* The web client's files (web/), served at "/" beside the REST API and
 * Socket.IO when a root directory is set. Only plain names are served: a
 * URI path of letters, digits, '_', '-' and '.' segments, no segment
 * starting with '.', so nothing outside the root (no "..", no hidden
 * files, no encoded bytes, no NUL) is ever opened. */
#ifndef CHAT_SIO_STATIC_FILES_H
#define CHAT_SIO_STATIC_FILES_H
#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/err.h"

#define STATIC_PATH_MAX 256 /* longest URI path served as a file */

/* Maps the URI path uri ("/", "/app.js") to a file name relative to the
 * root ("index.html", "app.js") in out. Returns false when uri is not a
 * plain name (see above) or does not fit in out_len. */
bool static_files_name(const char *uri, char *out, size_t out_len);

/* The Content-Type of a file name, by its extension ("application/
 * octet-stream" when unknown). A static string. */
const char *static_files_type(const char *name);

/* Reads the file of uri under root into *body (the caller frees it with
 * bson_string_free(*body, true)) and sets *type. Returns CHAT_OK,
 * CHAT_ERR_NOT_FOUND (refused name, missing, not a regular file, or
 * unreadable) or CHAT_ERR_TOO_LARGE (over max_bytes). */
chat_err_t static_files_read(const char *root, const char *uri, size_t max_bytes,
                             bson_string_t **body, const char **type);
#endif
