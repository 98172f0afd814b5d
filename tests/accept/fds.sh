#!/bin/bash
# File descriptors as scheduling decisions (harness/rt/fd.c): a read, write,
# accept or poll on a descriptor whose other end is in the process waits in
# the model, a wait nobody can end is a deadlock naming the descriptor, a peer
# outside the process is waited for really and marked fd-external. For each
# kind of descriptor a program with a bug that pct:3 finds and whose trace
# replays, and its correct twin, clean; then the migration core over real
# Unix sockets between two threads, explored without the in-memory fake.
. tests/accept/lib.bash

# found and clean: lib.bash; two jobs at a time
XOPT="--jobs 2"

for b in tsan asan; do
	P=build/$b/testprogs
	# the asan runs cost more: fewer random schedules there
	R=1000
	[ $b = asan ] && R=300
	found $b "pipe, two writes per record" 'assert:.*record torn' $P/fd_pipe
	clean $b "pipe, one write per record" random $R $P/fd_pipe fixed
	clean $b "pipe, one write per record" dfs:1 1000 $P/fd_pipe fixed
	found $b "eventfd signalled before the result" 'assert:.*woken before the result' $P/fd_eventfd
	clean $b "eventfd signalled after the result" random $R $P/fd_eventfd fixed
	clean $b "eventfd signalled after the result" dfs:1 1000 $P/fd_eventfd fixed
	found $b "socketpair, a request dropped" 'deadlock' $P/fd_sockpair
	expect "$b: ... reported as a deadlock naming both ends, not a hang at the wall clock" 1 \
		'no thread can run: T[12] reads fd [0-9]+ \(socketpair; the other end fd [0-9]+ is open, last used by T[12]\); T[12] reads fd' \
		$M exec --strategy pct:3 --runs 1000 -- $P/fd_sockpair
	clean $b "socketpair, the service open first" random $R $P/fd_sockpair fixed
	clean $b "socketpair, the service open first" dfs:1 1000 $P/fd_sockpair fixed
done

# loopback TCP between two threads, waited for in poll and in epoll_wait:
# sockets of the process, no step external
for a in poll epoll; do
	clean tsan "loopback TCP echo ($a)" random 200 build/tsan/testprogs/fd_tcp $a
	clean tsan "loopback TCP echo ($a)" dfs:1 1000 build/tsan/testprogs/fd_tcp $a
	expect "tsan: ... ($a) no step is fd-external" 0 'no failure' \
		$M exec --strategy random --runs 1 --trace-all --out "$OUTDIR/tcp-$a" -- build/tsan/testprogs/fd_tcp $a
	check "... (the trace has fd steps, none external)" bash -c \
		"grep -q ' fd d' $OUTDIR/tcp-$a/*.trace && ! grep -q fd-external $OUTDIR/tcp-$a/*.trace"
done

# a peer outside the process: waited for really, the steps marked, replay warns
P=build/tsan/testprogs
SOCK="$OUTDIR/outside.sock"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(16); c.sendall(b"pong\n"); c.close()
' "$SOCK" &
SRV=$!
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S "$SOCK" ] && break; sleep 0.2; done
expect "a server outside the process answers every run" 0 'no failure' \
	$M exec --strategy random --runs 20 --trace-all --out "$OUTDIR/outside" -- $P/fd_outside "$SOCK"
T=$(ls "$OUTDIR"/outside/*.trace | head -1)
check "... its connect, write and read are fd-external steps" bash -c \
	"grep -c ' T0 fd-external d1 ' '$T' | grep -qx 3"
expect "... and its replay warns that the run depends on the outside" 0 \
	'warning: the run depends on the outside: at step [0-9]+ T0 waited' $M replay "$T"
kill $SRV 2>/dev/null
wait $SRV 2>/dev/null

# the migration core over real Unix sockets: source and destination threads
# of one process, the core's socket transport (core/migration/channel.c)
for b in tsan asan; do
	P=build/$b/core-progs
	M_MODES="complete cancel multifd"
	[ $b = asan ] && M_MODES="multifd"   # the suite stays under 90 s
	for m in $M_MODES; do
		clean $b "migration over a Unix socket ($m)" pct:3 200 $P/unix_migrate $m
		clean $b "migration over a Unix socket ($m)" random 200 $P/unix_migrate $m
	done
done
R=$OUTDIR/unix-trace
expect "tsan: the migration's accept, connect, recv and send are decisions in the trace" 0 'no failure' \
	$M exec --strategy random --runs 1 --trace-all --out "$R" -- build/tsan/core-progs/unix_migrate
check "... (fd steps on sock_accept, sock_read and sock_write, none external)" bash -c \
	"T=\$(ls $R/*.trace); grep -q ' fd d[0-9]* .*sock_accept' \$T && grep -q ' fd d[0-9]* .*sock_read' \$T && grep -q ' fd d[0-9]* .*sock_write' \$T && ! grep -q fd-external \$T"
finish
