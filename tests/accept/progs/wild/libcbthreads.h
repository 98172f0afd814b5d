/* libcbthreads: threads started inside a plain library, calling back. */
#ifndef LIBCBTHREADS_H
#define LIBCBTHREADS_H
int cbt_run(int n, void (*fn)(void *, int), void *arg);
#endif
