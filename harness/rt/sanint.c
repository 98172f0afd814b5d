/*
 * What the fork server does with the sanitizer runtime's internals, to make
 * a run cheaper without changing what it does. Built for LLVM 14's runtimes
 * (x86-64): with another compiler, a stripped program or no sanitizer, the
 * functions and variables below are not found and nothing changes.
 *
 * The stack depot, carried from the runs back to the fork server. TSan and
 * ASan keep every stack they record (the allocation stack of each malloc, a
 * mutex's creation, a thread's, the deadlock detector's edges) in a hash
 * table of 2^20 slots (4 MiB) and a store of frames. A run starts as a copy
 * of the fork server, whose depot holds only the setup's stacks: every run
 * recorded the same stacks anew, and each new stack writes a slot at a
 * random place in that table (a page fault, most often two: the read, then
 * the write) and into the store. That was about a fifth of a run's page
 * faults. So at its end a run copies the stacks it added (the depot numbers
 * them in order: those past the server's count) into shared memory, and the
 * server puts them into its own depot after the run. The next runs find them
 * there: a lookup reads pages the fork shares, and writes nothing. After a
 * few runs hardly any run adds a stack. What is carried changes no address:
 * the server stays within the depot's first block of nodes and of frames,
 * which every program maps at its start (CARRY_IDS, CARRY_FRAMES), so its
 * mappings are a replay's.
 *
 * TSan's background thread. TSan starts it at a process's first
 * pthread_create: every run's child started one more thread than the
 * program did, which sleeps 100 ms at a time and with TSan's default flags
 * does nothing (it flushes memory, watches a memory limit, writes a memory
 * profile or flushes the symbolizer's cache only when TSAN_OPTIONS asks for
 * it). The server marks it started, so the runs do not start it, unless
 * TSAN_OPTIONS names one of those flags.
 *
 * Most of these are local symbols: found by name in the executable's symbol
 * table.
 */
#define _GNU_SOURCE
#define MIGRACE_RT
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rawmap.h"
#include "sanint.h"

#define AREA_WORDS ((1u << 20) / 8 - 2)   /* 1 MiB */
#define CARRY_IDS 30000u                  /* the first node block holds ids below 65,536 */
#define CARRY_FRAMES (1u << 19)           /* the first frame block holds 2^20 */

/* LLVM 14, sanitizer_common: StackTrace, StackDepotStats, StackDepotHandle */
struct san_trace {
	const uintptr_t *trace;
	uint32_t size;
	uint32_t tag;
};
struct san_stats {
	uintptr_t n_uniq_ids;
	uintptr_t allocated;
};
struct san_handle {
	void *node;
	uint32_t id;
};

static struct {
	struct san_stats (*stats)(void);
	struct san_trace (*get)(uint32_t id);
	struct san_handle (*put)(struct san_trace t);
	struct area {
		uint32_t used;             /* words in w[] */
		uint64_t w[AREA_WORDS];    /* per stack: size | tag << 32, then its frames */
	} *area;
	uint32_t *bg_thread;           /* TSan: MaybeSpawnBackgroundThread's "started" */
	uint32_t base;                 /* the highest id the server has (its count) */
	uint64_t frames;               /* frames the server has taken */
} dp;

/* The address of the function or variable (TYPE, STT_FUNC or STT_OBJECT)
 * NAME in the executable, or 0. */
static uintptr_t find_symbol(const unsigned char *img, size_t len, uintptr_t bias, const char *name, int type)
{
	const ElfW(Ehdr) *eh = (const void *)img;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff > len ||
	    (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len - eh->e_shoff)
		return 0;
	const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		const ElfW(Shdr) *st = &sh[sh[i].sh_link];
		if (sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset || st->sh_offset > len ||
		    st->sh_size > len - st->sh_offset)
			return 0;
		const ElfW(Sym) *sym = (const void *)(img + sh[i].sh_offset);
		const char *str = (const char *)img + st->sh_offset;
		size_t n = sh[i].sh_size / sizeof(*sym), nlen = strlen(name) + 1;
		for (size_t j = 0; j < n; j++)
			if (ELF64_ST_TYPE(sym[j].st_info) == type && sym[j].st_value &&
			    sym[j].st_name < st->sh_size && st->sh_size - sym[j].st_name >= nlen &&
			    memcmp(str + sym[j].st_name, name, nlen) == 0)
				return bias + sym[j].st_value;
	}
	return 0;
}

static int bias_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(uintptr_t *)arg = info->dlpi_addr;
	return 1;                    /* the first entry is the executable */
}

void sanint_setup(void)
{
#if defined(__clang__) && __clang_major__ == 14 && defined(__x86_64__)
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return;
	}
	size_t len = (size_t)st.st_size;
	void *img = raw_mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return;
	uintptr_t bias = 0;
	dl_iterate_phdr(bias_cb, &bias);
	uintptr_t stats = find_symbol(img, len, bias, "_ZN11__sanitizer18StackDepotGetStatsEv", STT_FUNC);
	uintptr_t get = find_symbol(img, len, bias, "_ZN11__sanitizer13StackDepotGetEj", STT_FUNC);
	uintptr_t put = find_symbol(img, len, bias, "_ZN11__sanitizer24StackDepotPut_WithHandleENS_10StackTraceE",
				    STT_FUNC);
	dp.bg_thread = (uint32_t *)find_symbol(img, len, bias, "_ZZN6__tsan26MaybeSpawnBackgroundThreadEvE9bg_thread",
					       STT_OBJECT);
	raw_munmap(img, len);
	if (!stats || !get || !put)
		return;
	void *a = raw_mmap(NULL, sizeof(*dp.area), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
			   -1, 0);
	if (a == MAP_FAILED)
		return;
	dp.area = a;
	dp.stats = (struct san_stats (*)(void))stats;
	dp.get = (struct san_trace (*)(uint32_t))get;
	dp.put = (struct san_handle (*)(struct san_trace))put;
#endif
}

void sanint_no_background_thread(void)
{
	static const char *const uses[] = { "flush_memory_ms", "memory_limit_mb", "profile_memory",
					    "flush_symbolizer_ms" };
	const char *opts = getenv("TSAN_OPTIONS");
	if (!dp.bg_thread)
		return;
	for (size_t i = 0; opts && i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strstr(opts, uses[i]))
			return;
	__atomic_store_n(dp.bg_thread, 1, __ATOMIC_RELAXED);
}

/* The depot's count (GetStats walks its node blocks to add up their
 * memory: once, here) and, after that, the highest id the server saw. */
void depot_before_run(void)
{
	if (!dp.area)
		return;
	dp.area->used = 0;
	if (!dp.base)
		dp.base = (uint32_t)dp.stats().n_uniq_ids;
}

/* The ids past the server's, in order, up to the first that holds no stack
 * (past the count; or one another thread of the run took and has not filled
 * yet: what follows it stays the run's). */
void depot_export(void)
{
	if (!dp.area)
		return;
	struct area *a = dp.area;
	for (uint32_t id = dp.base + 1; id < CARRY_IDS; id++) {
		struct san_trace t = dp.get(id);
		if (!t.size || !t.trace)
			break;
		if (t.size > AREA_WORDS - 1 - a->used)
			continue;           /* stays the run's; a shorter one may fit */
		a->w[a->used] = t.size | (uint64_t)t.tag << 32;
		memcpy(&a->w[a->used + 1], t.trace, t.size * sizeof(uintptr_t));
		a->used += 1 + t.size;
	}
}

void depot_import(void)
{
	if (!dp.area)
		return;
	struct area *a = dp.area;
	uint32_t used = a->used < AREA_WORDS ? a->used : AREA_WORDS;
	for (uint32_t i = 0; i < used;) {
		uint32_t size = (uint32_t)a->w[i];
		if (size == 0 || size > used - i - 1)
			break;
		if (dp.base + 1 >= CARRY_IDS || dp.frames + size > CARRY_FRAMES)
			break;
		struct san_handle h =
			dp.put((struct san_trace){ (const uintptr_t *)&a->w[i + 1], size, (uint32_t)(a->w[i] >> 32) });
		if (h.id > dp.base)
			dp.base = h.id;
		dp.frames += size;
		i += 1 + size;
	}
}
