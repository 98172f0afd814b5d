/*
 * Every run's mappings lie where the first run's did, however many runs the
 * fork server has served. TSan records the server's intercepted libc calls
 * in its trace, mapped in parts of 256 KiB as they fill (up to three for a
 * thread). The setup makes such calls until the second part is mapped, then
 * nearly fills it (PART_CALLS calls fill one; none is mapped when the server
 * mapped them all before), and calls migrace_fork_here().
 * Each run maps 256 KiB and appends the size of its address space at the
 * start and where that mapping lies to the file $RUN_LAYOUT_LOG: the same
 * line from every run when the server mapped all its parts before the first
 * fork; a different one once the server's own calls between runs filled the
 * part and it mapped the third.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <migrace/migrace.h>

#define PART_CALLS 7550     /* strlen calls, a status read every 50th, per part */

static long vm_size(void)
{
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *v = strstr(buf, "\nVmSize:");
	return v ? strtol(v + 8, NULL, 10) : -1;
}

int main(void)
{
	static char text[256];
	const char *log = getenv("RUN_LAYOUT_LOG");
	size_t sum = 0;
	long i, v, grown = -1;
	char line[64];

	if (!log) {
		fprintf(stderr, "run_layout: RUN_LAYOUT_LOG is not set\n");
		return 2;
	}
	memset(text, 'x', sizeof(text) - 1);
	v = vm_size();
	for (i = 0; grown < 0 ? i < 3 * PART_CALLS : i < grown + PART_CALLS - 300; i++) {
		sum += strlen(text + i % 64);
		if (i % 50 == 0 && grown < 0 && vm_size() != v)
			grown = i;
	}
	migrace_fork_here();
	v = vm_size();
	void *m = mmap(NULL, 256 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int n = snprintf(line, sizeof(line), "%ld %p\n", v, m);
	int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		return 1;
	close(fd);
	return sum == 0;
}
