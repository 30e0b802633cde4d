/* libwebsockets' own log lines as ours: one JSON object a line. */
#ifndef CHAT_SIO_LWS_LOG_H
#define CHAT_SIO_LWS_LOG_H

/* An lws_set_log_level() emit function: writes line (lws's timestamp
 * prefix and trailing newline cut) through CHAT_LOG, LLL_ERR as error,
 * LLL_WARN as warn, LLL_NOTICE and LLL_INFO as info, the rest as debug. */
void chat_sio_lws_log(int level, const char *line);

#endif
