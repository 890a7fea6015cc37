/*
 * xmalloc.h -- allocation that dies loudly.
 *
 * For the programs' outer layers only (option parsing, the CLI), where an
 * allocation failure cannot be reported usefully.  The Raft core and the
 * storage layer report ENOMEM instead and never call these.
 * Every returned pointer is owned by the caller and freed with free().
 */
#ifndef RAFTKV_XMALLOC_H
#define RAFTKV_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* RAFTKV_XMALLOC_H */
