/*
 * migrace show: a trace drawn as lanes, one column per thread, or written in
 * the Chrome trace-event format (Perfetto, chrome://tracing).
 */
#ifndef MIGRACE_SHOW_H
#define MIGRACE_SHOW_H

int cmd_show(int argc, char **argv);
extern const char show_help[];

#endif
