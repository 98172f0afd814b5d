/*
 * The commands of migrace, one file each (exec.c, run.c, ...): main's table
 * (migrace.c) is built from these entries. A command's file defines its entry
 * and nothing another command calls.
 */
#ifndef MIGRACE_COMMANDS_H
#define MIGRACE_COMMANDS_H

struct command {
	const char *name;
	int (*main)(int argc, char **argv);   /* argv[0] is the command's name */
	const char *help;                     /* its --help text */
};

extern const struct command cmd_list, cmd_run, cmd_exec, cmd_hunt, cmd_stress, cmd_replay,
	cmd_minimize, cmd_reproduce, cmd_faults, cmd_show;

#endif
