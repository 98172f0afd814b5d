/*
 * Spin loops under sync points only. A thread that waits for another by
 * re-reading memory, with no call in its loop, makes no scheduling decision:
 * it keeps the baton, and the thread it waits for never runs. The fork
 * server, which supervises the run anyway, tells such a run from a slow one
 * at no cost to the runs that end in time:
 *
 * - every SPIN_TICK_MS of a run that lasts, it reads the step counter; when
 *   the counter has not moved since the last look, it reads the scheduler's
 *   state from the run (rt_snapshot_child): the thread holding the baton and
 *   whether another could run (enabled, or waiting with a deadline);
 * - when another could, it follows the running thread's CPU time (the
 *   kernel's, /proc/PID/task/TID/schedstat): a thread that used spin_ms of
 *   CPU, and is still on a CPU, with no decision since, spins. CPU time, not
 *   wall time, so that a loaded machine does not make a slow run a spin, and
 *   a thread blocked in a system call never is one;
 * - it samples where the thread is: a reserved signal (SPIN_SIGNAL), sent
 *   to that thread alone, whose handler (installed here before the first
 *   fork, so every run has it; with the raw system call, so that a
 *   sanitizer's deferral of signals to its next interceptor cannot hold it
 *   back) writes the interrupted pc and the return addresses above it
 *   (_Unwind_Backtrace, through the signal frame) into memory shared with
 *   the server;
 * - the run is killed, and a child of the server symbolizes the samples:
 *   each one's place is its first frame with a source line (a pc in a
 *   sanitizer's runtime or a library has none: the loop that called it
 *   has), and the spin's the smallest file:line of those that a quarter of
 *   the samples or more have (else the most frequent): `spin@file:line`,
 *   the same for every run and replay of the schedule.
 *
 * Under memory points a spin loop's loads are decisions, and a thread that
 * re-reads an unchanged word yields (rt.c, fairness): it does not hold the
 * run, and the detector is not needed (it still watches).
 */
#define _GNU_SOURCE
#include "spin.h"

#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "symbolize.h"

#define SPIN_SIGNAL (SIGRTMAX - 3)

static struct rt_shared *spin_shm;   /* the server's, inherited by the runs */
static uint64_t spin_ns;             /* CPU time without a decision that is a spin; 0 off */
static uintptr_t text_lo, text_hi;   /* the executable's code */

static int text_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (!text_lo || lo < text_lo)
			text_lo = lo;
		if (hi > text_hi)
			text_hi = hi;
	}
	return 1;                /* the first object is the executable */
}

static bool in_text(uintptr_t pc)
{
	return pc >= text_lo && pc < text_hi;
}

#if defined(__x86_64__)
struct walk {
	uintptr_t pc;            /* the interrupted pc */
	uint64_t *out;
	int n;
};

/* The frames from the interrupted one on (the handler's own and the signal
 * frame come first, and are skipped), as offsets into the executable. */
static _Unwind_Reason_Code walk_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct walk *w = arg;
	uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
	if (!w->n && ip != w->pc)
		return _URC_NO_REASON;
	/* the interrupted pc +1: the symbolizer looks up the byte before, as
	 * for the return addresses that follow */
	w->out[w->n] = in_text(ip) ? ip - rt_exe_base() + !w->n : 0;
	return ++w->n == SPIN_DEPTH ? _URC_END_OF_STACK : _URC_NO_REASON;
}

/* The handler: where the thread is, and the calls that led there (a loop
 * that calls into an uninstrumented library or a sanitizer's runtime is in
 * the program's code a frame or two up). */
static void on_sample(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	const ucontext_t *uc = ctx;
	uint32_t n = spin_shm->spin_npc;
	if (n >= SPIN_SAMPLES)
		return;
	uint64_t *out = spin_shm->spin_pc[n];
	struct walk w = { (uintptr_t)uc->uc_mcontext.gregs[REG_RIP], out, 0 };
	memset(out, 0, SPIN_DEPTH * sizeof(*out));
	/* the unwinder calls pthread_once (done in the server): no decision */
	bool was = rt_in_fiu;
	rt_in_fiu = true;
	_Unwind_Backtrace(walk_frame, &w);
	rt_in_fiu = was;
	if (!w.n && in_text(w.pc))     /* no unwinding: the pc alone */
		out[0] = w.pc - rt_exe_base() + 1;
	__atomic_store_n(&spin_shm->spin_npc, n + 1, __ATOMIC_RELEASE);
}

/* The kernel's sigaction, and the return from a handler it needs. */
struct ksigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};
#define K_SA_RESTORER 0x04000000
void migrace_spin_restore(void);
__asm__(".text\n"
	".type migrace_spin_restore,@function\n"
	"migrace_spin_restore:\n"
	"\tmovq $15, %rax\n"        /* rt_sigreturn */
	"\tsyscall\n"
	".size migrace_spin_restore,.-migrace_spin_restore\n");

static void install_handler(void)
{
	struct ksigaction sa = { .handler = on_sample,
				 .flags = SA_SIGINFO | SA_RESTART | K_SA_RESTORER,
				 .restorer = migrace_spin_restore };
	syscall(SYS_rt_sigaction, SPIN_SIGNAL, &sa, NULL, sizeof(sa.mask));
	/* the unwinder's first call sets itself up (pthread_once, lazy
	 * binding): here, in the server, and never in a run's handler */
	uint64_t frames[SPIN_DEPTH];
	struct walk w = { 0, frames, 0 };
	_Unwind_Backtrace(walk_frame, &w);
}
#else
static void install_handler(void) {}   /* no samples: the spin is `spin@unknown` */
#endif

void spin_setup(struct rt_shared *shm, unsigned spin_ms)
{
	spin_ns = (uint64_t)spin_ms * 1000000;
	spin_shm = shm;
	dl_iterate_phdr(text_cb, NULL);
	if (spin_ns)
		install_handler();
}

void spin_watch_begin(struct spin_watch *w, const struct rt_shared *shm)
{
	w->steps = shm->nsteps;
	w->probed = false;
	w->thread = -1;
}

/* Reads a small /proc file into buf (NUL-terminated); its length, or -1.
 * Raw system calls: the server's heap and descriptors stay the runs'. */
static int read_proc(pid_t pid, pid_t tid, const char *what, char *buf, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid, (int)tid, what);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long n = syscall(SYS_read, fd, buf, len - 1);
	syscall(SYS_close, fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

/* The thread's stat line after its name: "S ppid ...", or NULL. */
static const char *thread_stat(pid_t pid, pid_t tid, char *buf, size_t len)
{
	if (read_proc(pid, tid, "stat", buf, len) <= 0)
		return NULL;
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/* The thread's CPU time in ns: schedstat's first field, else stat's user
 * and system time (in clock ticks); UINT64_MAX unknown. */
static uint64_t cpu_ns(pid_t pid, pid_t tid)
{
	char buf[512];
	if (read_proc(pid, tid, "schedstat", buf, sizeof(buf)) > 0)
		return strtoull(buf, NULL, 10);
	const char *p = thread_stat(pid, tid, buf, sizeof(buf));
	for (int field = 3; p && field < 14; field++)    /* to utime, the 14th */
		if ((p = strchr(p, ' ')))
			p++;
	if (!p)
		return UINT64_MAX;
	char *e;
	unsigned long long ut = strtoull(p, &e, 10), st = strtoull(e, NULL, 10);
	long hz = sysconf(_SC_CLK_TCK);
	return (ut + st) * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

/* The thread's state letter (R running, S sleeping, ...), or 0. */
static char thread_state(pid_t pid, pid_t tid)
{
	char buf[512];
	const char *p = thread_stat(pid, tid, buf, sizeof(buf));
	return p ? p[0] : 0;
}

/* Whether a thread besides r could run, now or when virtual time moves. */
static int other_thread(const struct snap *sn, int r)
{
	for (int i = 0; i < sn->nthreads; i++) {
		const struct snap_thread *t = &sn->t[i];
		if (i == r || t->status == TS_FINISHED)
			continue;
		if (t->enabled || (t->deadline > 0 && t->deadline != MODEL_NO_DEADLINE))
			return i;
	}
	return -1;
}

static void nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };
	syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
}

/* Up to SPIN_SAMPLES pcs of the thread, 2 ms apart; a signal not taken
 * within 50 ms (blocked by the thread) ends the sampling. */
static void sample(pid_t pid, pid_t tid, struct rt_shared *shm)
{
	shm->spin_npc = 0;
	for (uint32_t i = 0; i < SPIN_SAMPLES; i++) {
		if (syscall(SYS_tgkill, pid, tid, SPIN_SIGNAL))
			return;
		for (int ms = 0; ms < 50 && __atomic_load_n(&shm->spin_npc, __ATOMIC_ACQUIRE) == i; ms++)
			nap_ms(1);
		if (__atomic_load_n(&shm->spin_npc, __ATOMIC_ACQUIRE) == i)
			return;
		nap_ms(2);
	}
}

bool spin_watch_tick(struct spin_watch *w, pid_t pid, struct rt_shared *shm)
{
	if (!spin_ns)
		return false;
	uint32_t n = __atomic_load_n(&shm->nsteps, __ATOMIC_ACQUIRE);
	if (n != w->steps) {
		spin_watch_begin(w, shm);
		w->steps = n;
		return false;
	}
	if (!w->probed) {
		/* nothing changes the scheduler's state but a decision: read
		 * once per stretch without one */
		if (rt_snapshot_child(pid, &w->snap) || __atomic_load_n(&shm->nsteps, __ATOMIC_ACQUIRE) != n)
			return false;
		w->probed = true;
		int r = w->snap.running;
		if (r < 0 || r >= w->snap.nthreads || other_thread(&w->snap, r) < 0)
			return false;
		w->ktid = w->snap.t[r].ktid ? w->snap.t[r].ktid : pid;
		w->cpu0 = cpu_ns(pid, w->ktid);
		if (w->cpu0 != UINT64_MAX)
			w->thread = r;
		return false;
	}
	if (w->thread < 0)
		return false;
	uint64_t c = cpu_ns(pid, w->ktid);
	if (c == UINT64_MAX || c - w->cpu0 < spin_ns || thread_state(pid, w->ktid) != 'R')
		return false;
	sample(pid, w->ktid, shm);
	siginfo_t si = { 0 };
	if (__atomic_load_n(&shm->nsteps, __ATOMIC_ACQUIRE) != n ||
	    (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid))
		return false;        /* it made a decision, or ended, after all */
	shm->snap = w->snap;
	shm->has_snap = true;
	return true;
}

/* "file.c:12" of a symbolized "file.c:12 function", compared by file, then
 * line; -1, 0, 1. */
static int loc_cmp(const char *a, const char *b)
{
	size_t la = strcspn(a, ": "), lb = strcspn(b, ": ");
	int c = strncmp(a, b, la < lb ? la : lb);
	if (c || la != lb)
		return c ? c : la < lb ? -1 : 1;
	long na = a[la] == ':' ? atol(a + la + 1) : 0, nb = b[lb] == ':' ? atol(b + lb + 1) : 0;
	return na < nb ? -1 : na > nb;
}

/* The directory part of a symbolized "/dir/file.c:12 function" (its
 * length), so that a frame's file can be told from the runtime's. */
static size_t dir_len(const char *loc)
{
	size_t n = strcspn(loc, ": ");
	while (n && loc[n - 1] != '/')
		n--;
	return n;
}

/* A symbolized frame with a source line, "/dir/file.c:12 function". */
static bool has_line(const char *nm)
{
	size_t f = nm ? strcspn(nm, ":") : 0;
	return nm && f && nm[f] && strncmp(nm, "??", 2) && nm[f + 1] >= '1' && nm[f + 1] <= '9';
}

void spin_verdict(const char *exe, struct rt_shared *shm)
{
	uint64_t offs[SPIN_SAMPLES * SPIN_DEPTH + 1];
	char *names[SPIN_SAMPLES * SPIN_DEPTH + 1];
	uint32_t got = shm->spin_npc < SPIN_SAMPLES ? shm->spin_npc : SPIN_SAMPLES;
	int n = (int)got * SPIN_DEPTH;
	const char *best = NULL;

	memcpy(offs, shm->spin_pc, (size_t)n * sizeof(*offs));
	/* and a function of the runtime's, whose directory is the runtime's */
	offs[n] = (uint64_t)((uintptr_t)&spin_verdict - rt_exe_base()) + 1;
	/* each sample's place: its first frame with a source line outside the
	 * runtime (a sanitizer's runtime and a library have none; the memory
	 * hooks are the runtime's) */
	const char *place[SPIN_SAMPLES];
	uint32_t np = 0;
	if (n && symbolize_paths(exe, offs, n + 1, names, true) == 0) {
		const char *rt_src = names[n];
		size_t rt_dir = rt_src ? dir_len(rt_src) : 0;
		for (uint32_t i = 0; i < got; i++)
			for (int d = 0; d < SPIN_DEPTH; d++) {
				const char *nm = names[i * SPIN_DEPTH + d];
				if (!has_line(nm) || (rt_dir && dir_len(nm) == rt_dir && !strncmp(nm, rt_src, rt_dir)))
					continue;
				place[np++] = nm + dir_len(nm);
				break;
			}
	}
	/* the spin's: the smallest of the places that have a quarter of the
	 * samples or more (a loop over several lines gives its first), else
	 * the most frequent; stable for a loop whatever the samples hit */
	uint32_t best_n = 0;
	for (int pass = 0; pass < 2 && !best; pass++)
		for (uint32_t i = 0; i < np; i++) {
			uint32_t c = 0;
			for (uint32_t j = 0; j < np; j++)
				c += loc_cmp(place[i], place[j]) == 0;
			bool take = pass == 0 ? c * 4 >= np && (!best || loc_cmp(place[i], best) < 0)
					      : c > best_n || (c == best_n && loc_cmp(place[i], best) < 0);
			if (take) {
				best = place[i];
				best_n = c;
			}
		}
	const struct snap *sn = &shm->snap;
	int r = sn->running, o = other_thread(sn, r);
	snprintf(shm->outcome, sizeof(shm->outcome), "spin@%.*s", best ? (int)strcspn(best, " ") : 7,
		 best ? best : "unknown");
	snprintf(shm->detail, sizeof(shm->detail),
		 "spin: T%d ran %" PRIu64 " ms of CPU time with no scheduling point while T%d could run, at %s "
		 "(%u of %d samples): a loop on memory with no call holds the baton, and the thread it waits for "
		 "never runs. --preempt mem makes its loads decisions (a thread that re-reads an unchanged word "
		 "then yields)", r, spin_ns / 1000000, o, best ? best : "an unknown place", got, SPIN_SAMPLES);
}
