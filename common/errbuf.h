/*
 * errbuf.h -- filling the caller-supplied error buffers that modules use to
 * say what failed (file, offset, key...), in the jansson json_error_t way.
 */
#ifndef RAFTKV_ERRBUF_H
#define RAFTKV_ERRBUF_H

#include <stddef.h>

/*
 * Formats a message into err (capacity errlen), truncating if needed.  err
 * may be NULL or errlen 0 when the caller does not want the message.
 */
void	 errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif /* RAFTKV_ERRBUF_H */
