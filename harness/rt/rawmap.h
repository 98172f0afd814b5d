/*
 * The runtime's own mappings, made past the sanitizers' mmap interceptors.
 * TSan's resets (and for a large range remaps) the shadow of every mapping
 * it sees: for the fork server's tables that is shadow memory and mappings
 * that every fork copies, and for the model's chunks, mapped in every run,
 * work on each run's way. The program never touches these, so no sanitizer
 * needs to know of them. Same arguments and results as mmap and munmap.
 */
#ifndef MIGRACE_RAWMAP_H
#define MIGRACE_RAWMAP_H

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long p = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return p < 0 && p > -4096 ? MAP_FAILED : (void *)p;
}

static inline int raw_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

#endif
