/*
 * migrace: the command line's front door. main is a table of commands, one
 * file each (commands.h); they share the worker pool (pool.c), option parsing
 * (opts.c), the scenario catalog (catalog.c) and reruns of traces (rerun.c).
 * Exit codes: 0 expectation held / nothing found, 1 mismatch / bug found,
 * 2 usage or input error, 77 skipped.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "opts.h"

#ifndef MIGRACE_VERSION
#define MIGRACE_VERSION "unknown"
#endif

static const char main_help[] =
	"usage: migrace COMMAND [ARGS]\n"
	"\n"
	"Deterministic race reproduction: runs a multithreaded C program one thread at a\n"
	"time in an order chosen by a script or a strategy, under TSan/ASan, and records\n"
	"a trace of every failing run that replays exactly.\n"
	"\n"
	"commands:\n"
	"  list                     the scenarios and what each must produce\n"
	"  run SCENARIO... | --all  run scenarios and check their expected signatures\n"
	"  exec -- PROGRAM ARGS     explore a program built with migrace-cc\n"
	"  hunt SCENARIO | -- PROGRAM ARGS\n"
	"                           search without a script, collect every distinct failure\n"
	"  stress -- PROGRAM ARGS   run it with real threads, no scheduler (the baseline)\n"
	"  replay TRACE             replay a recorded run step by step\n"
	"  minimize TRACE           shrink a failing trace, keeping its signature\n"
	"  show [--json] TRACE      draw a trace as lanes, one column per thread (or\n"
	"                           write it for Perfetto / chrome://tracing)\n"
	"  reproduce FILE           rerun the failure a report, CI log or trace names,\n"
	"                           confirm or refute its signature\n"
	"  faults PROGRAM           fail every hit of every fault point, check the end\n"
	"  help [COMMAND]           this text, or a command's\n"
	"  --version                this migrace's version\n"
	"\n"
	"exit codes: 0 expectation held / nothing found; 1 mismatch / bug found (with the\n"
	"trace path and a repro line); 2 usage or input error; 77 skipped.\n"
	"Build programs with build/bin/migrace-cc --tsan|--asan|--plain prog.c -o prog.\n";


static const struct command *const commands[] = {
	&cmd_list, &cmd_run, &cmd_exec, &cmd_hunt, &cmd_stress, &cmd_replay, &cmd_minimize, &cmd_reproduce,
	&cmd_faults, &cmd_show,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	find_root();
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(main_help, stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		fputs(main_help, stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("migrace %s\n", MIGRACE_VERSION);
		return 0;
	}
	if (strcmp(name, "help") == 0) {
		const struct command *c = argc > 2 ? find_command(argv[2]) : NULL;
		if (argc > 2 && !c)
			die_usage(NULL, "help: no command named '%s'", argv[2]);
		fputs(c ? c->help : main_help, stdout);
		return 0;
	}
	const struct command *c = find_command(name);
	if (!c)
		die_usage(NULL, "unknown command '%s'", name);
	return c->main(argc - 1, argv + 1);
}
