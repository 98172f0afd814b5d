/*
 * Never ends. argv[1]: "busy" spins without any scheduling point (the
 * wall-clock timeout must end it: `hang`); "yield" spins on sched_yield
 * waiting for a flag nobody sets (the step limit must end it: `hang`).
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

static volatile int flag;

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "yield") == 0)
		while (!flag)
			sched_yield();
	else
		while (!flag)
			;
	return 0;
}
