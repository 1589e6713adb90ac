/* log.h: the only writer of log lines.
 *
 * One logfmt line per event on stderr: `ts=... level=... msg=... key=value...`.
 * Callers pass the key=value tail preformatted; values that may hold spaces or
 * quotes must be quoted by the caller with log_quote. Tokens never reach a log. */
#ifndef THREADSTORE_LOG_H
#define THREADSTORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
void log_msg(enum log_level lvl, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes s as a quoted logfmt value into out (always NUL-terminated, truncated to fit). */
const char *log_quote(char *out, size_t outsz, const char *s, size_t n);

#define log_info(msg, ...) log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_msg(LOG_ERROR, msg, __VA_ARGS__)

#endif
