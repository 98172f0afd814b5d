/*
 * The sanitizer's stack depot, carried from the runs back to the fork server.
 *
 * TSan and ASan keep every stack they record (the allocation stack of each
 * malloc, a mutex's creation, a thread's, the deadlock detector's edges) in a
 * hash table of 2^20 slots (4 MiB) and a store of frames. A run starts as a
 * copy of the fork server, whose depot holds only the setup's stacks: every
 * run records the same stacks anew, and each new stack writes a slot at a
 * random place in that table (a page fault, most often two: the read, then
 * the write) and into the store. That was about a quarter of a run's page
 * faults.
 *
 * So at its end a run copies the stacks it added (the depot numbers them in
 * order: those past the server's count) into shared memory, and the server
 * puts them into its own depot after the run. The next runs find them there:
 * a lookup reads pages the fork shares, and writes nothing. After a few runs
 * hardly any run adds a stack.
 *
 * The depot's functions are the sanitizer runtime's, linked into the
 * program, and most are local symbols: found by name in the executable's
 * symbol table. Built for LLVM 14's runtime (the numbering, StackTrace and
 * StackDepotStats as they are there); with another compiler, a stripped
 * program or no sanitizer, nothing is carried and runs are as before. What is
 * carried changes no address: the server stays within the depot's first
 * block of nodes and of frames, which every program maps at its start
 * (CARRY_IDS, CARRY_FRAMES), so its mappings are a replay's.
 */
#define _GNU_SOURCE
#define MIGRACE_RT
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "depot.h"
#include "rawmap.h"

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
		uint32_t lost;             /* stacks that did not fit */
		uint64_t w[AREA_WORDS];    /* per stack: size | tag << 32, then its frames */
	} *area;
	uint32_t base;                 /* the server's count of stacks when the run forked */
	uint64_t frames;               /* frames the server has taken */
} dp;

/* The address of the function NAME in the executable, or 0. */
static uintptr_t find_symbol(const unsigned char *img, size_t len, uintptr_t bias, const char *name)
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
			if (ELF64_ST_TYPE(sym[j].st_info) == STT_FUNC && sym[j].st_value &&
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

void depot_setup(void)
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
	uintptr_t stats = find_symbol(img, len, bias, "_ZN11__sanitizer18StackDepotGetStatsEv");
	uintptr_t get = find_symbol(img, len, bias, "_ZN11__sanitizer13StackDepotGetEj");
	uintptr_t put = find_symbol(img, len, bias, "_ZN11__sanitizer24StackDepotPut_WithHandleENS_10StackTraceE");
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

bool depot_active(void)
{
	return dp.area != NULL;
}

void depot_before_run(void)
{
	if (!dp.area)
		return;
	dp.area->used = dp.area->lost = 0;
	dp.base = (uint32_t)dp.stats().n_uniq_ids;
}

void depot_export(void)
{
	if (!dp.area)
		return;
	struct area *a = dp.area;
	uint32_t n = (uint32_t)dp.stats().n_uniq_ids;
	for (uint32_t id = dp.base + 1; id <= n; id++) {
		struct san_trace t = dp.get(id);
		if (!t.size || !t.trace)
			continue;
		if (t.size > AREA_WORDS - 1 - a->used) {
			a->lost++;
			continue;
		}
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
	uintptr_t ids = used ? dp.stats().n_uniq_ids : 0;   /* at most one more per put */
	for (uint32_t i = 0; i < used; ids++) {
		uint32_t size = (uint32_t)a->w[i];
		if (size == 0 || size > used - i - 1)
			break;
		if (ids >= CARRY_IDS || dp.frames + size > CARRY_FRAMES)
			break;
		dp.put((struct san_trace){ (const uintptr_t *)&a->w[i + 1], size, (uint32_t)(a->w[i] >> 32) });
		dp.frames += size;
		i += 1 + size;
	}
	a->used = 0;
}
