#!/bin/bash
# migrate-vm --monitor: two processes, each one "QEMU" serving its monitor, a
# source with a running guest and an empty destination; a migration between
# them driven only over their monitors by a raw client (build/tests/monclient),
# completed and cancelled, plain and ASan builds. The destination's memory as
# loaded must equal the source's when it stopped for the last pass.
. tests/accept/lib.bash
C=build/tests/monclient
D=$OUTDIR/mon

# start_pair BUILD: a source and a destination, serving on $D/src.sock, $D/dst.sock
start_pair() {
	rm -rf "$D" && mkdir -p "$D"
	$1 --monitor "unix:$D/src.sock" --ram 16 > "$D/src.out" 2>&1 &
	SRC=$!
	$1 --monitor "unix:$D/dst.sock" --incoming --ram 16 > "$D/dst.out" 2>&1 &
	DST=$!
}
# wait_pair: both processes exited 0; their last lines appended to $OUT
wait_pair() {
	local rs rd
	timeout 60 tail --pid=$SRC -f /dev/null; wait $SRC; rs=$?
	timeout 60 tail --pid=$DST -f /dev/null; wait $DST; rd=$?
	OUT="$OUT
$(cat "$D/src.out" "$D/dst.out")"
	[ $rs -eq 0 ] && [ $rd -eq 0 ]
}
# the memory hashes the two processes printed; both there and equal
same_memory() {
	local s d
	s=$(sed -n 's/^migrate-vm: source quit: .* memory sent \([0-9a-f]*\)$/\1/p' "$D/src.out")
	d=$(sed -n 's/^migrate-vm: destination quit: .* memory loaded \([0-9a-f]*\)$/\1/p' "$D/dst.out")
	[ -n "$s" ] && [ "$s" = "$d" ]
}

for b in plain asan; do
	V=build/bin/migrate-vm
	[ $b = asan ] && V=build/asan/bin/migrate-vm
	M_SRC="src=unix:$D/src.sock" M_DST="dst=unix:$D/dst.sock" MIG="uri=unix:$D/mig.sock"

	start_pair $V
	expect "$b: a migration driven over the two monitors completes on both sides" 0 \
		'dst: \{"return":"[0-9]+","status":"running"' \
		$C "$M_SRC" "$M_DST" 'src>query-status' "dst>migrate-incoming $MIG" \
		"src>migrate $MIG return-path=true" 'src?MIGRATION:completed|MIGRATION:failed' \
		'dst?MIGRATION:completed|MIGRATION:failed' 'src>query-migrate' 'dst>query-status' \
		'src>query-status' 'dst>quit' dst.eof 'src>quit' src.eof
	check "  ... the source's events: setup, active, STOP, device, completed, in order" \
		grep -qz 'src: {"event":"MIGRATION","status":"setup"}.*src: {"event":"MIGRATION","status":"active"}.*src: {"event":"STOP","status":"finish-migrate"}.*src: {"event":"MIGRATION","status":"device"}.*src: {"event":"MIGRATION","status":"completed"}' <<<"$OUT"
	check "  ... the source ends in postmigrate, the destination got RESUME then completed" \
		grep -qz 'dst: {"event":"RESUME"}.*dst: {"event":"MIGRATION","status":"completed"}.*src: {"return":"[0-9]*","status":"postmigrate"' <<<"$OUT"
	check "  ... both processes exited after quit" wait_pair
	check "  ... the destination's loaded memory is the source's final memory" same_memory

	start_pair $V
	expect "$b: multifd over 2 channels, driven over the monitors" 0 'src: \{"event":"MIGRATION","status":"completed"' \
		$C "$M_SRC" "$M_DST" "dst>migrate-incoming $MIG" "src>migrate $MIG return-path=true multifd-channels=2" \
		'src?MIGRATION:completed|MIGRATION:failed' 'dst?MIGRATION:completed|MIGRATION:failed' \
		'dst>quit' dst.eof 'src>quit' src.eof
	check "  ... memory verified" eval 'wait_pair && same_memory'

	start_pair $V
	expect "$b: migrate_cancel over the monitor: cancelled, the guest runs on the source only" 0 \
		'src: \{"return":"[0-9]+","status":"running"' \
		$C "$M_SRC" "$M_DST" "dst>migrate-incoming $MIG" "src>migrate $MIG return-path=true max-bandwidth=1048576" \
		'src?MIGRATION:active' 'src>migrate_cancel' 'src?MIGRATION:cancelled' 'dst?MIGRATION:failed' \
		'src>query-status' 'dst>query-status' 'dst>quit' dst.eof 'src>quit' src.eof
	check "  ... the destination never started the guest" \
		eval 'wait_pair && grep -q "destination quit: runstate shutdown, 0 starts" "$D/dst.out"'

	# the management core (core/mgmt) driving both processes: Begin, Prepare,
	# Perform, Finish, Confirm; kill = hang up the monitor
	start_pair $V
	expect "$b: a managed migration (core/mgmt, peer to peer) between the two processes" 0 \
		'mgmt_p2p: destination: active, job 0' \
		build/tests/mgmt_p2p "unix:$D/src.sock" "unix:$D/dst.sock"
	check "  ... Confirm killed the source (postmigrate, never resumed), the destination runs, started once" \
		eval '! wait_pair && grep -q "source lost its client: runstate postmigrate, 0 starts" "$D/src.out" &&
			grep -q "destination lost its client: runstate running, 1 starts" "$D/dst.out"'
	check "  ... the destination's loaded memory is the source's final memory" \
		bash -c 's=$(sed -n "s/.*memory sent \([0-9a-f]*\)$/\1/p" "$1"); d=$(sed -n "s/.*memory loaded \([0-9a-f]*\)$/\1/p" "$2");
			[ -n "$s" ] && [ "$s" = "$d" ]' _ "$D/src.out" "$D/dst.out"
done

start_pair build/bin/migrate-vm
expect "errors come back as error replies: an unknown command, migrate on the destination" 0 \
	'"error":"[0-9]+","class":"CommandNotFound"' \
	$C "$M_SRC" "$M_DST" 'src>!frobnicate' 'dst>!migrate uri=unix:/nowhere' 'dst>quit' dst.eof 'src>quit' src.eof
check "  ... GenericError for migrate on the destination" grep -q 'GenericError.*migration destination' <<<"$OUT"
wait_pair
start_pair build/bin/migrate-vm
expect "a client that hangs up without quit ends the process with 1" 0 '' \
	$C "$M_SRC" "$M_DST" 'src>query-status' 'dst>quit' dst.eof
check "  ... saying so" eval '! wait_pair && grep -q "source lost its client" "$D/src.out"'
expect "migrate-vm --incoming needs --monitor" 2 '\-\-incoming needs \-\-monitor' build/bin/migrate-vm --incoming
expect "migrate-vm --monitor rejects the launcher's migration options" 2 "migrate command's" \
	build/bin/migrate-vm --monitor unix:/tmp/x.sock --multifd 2
expect "migrate-vm --monitor on a bad URI fails, naming it" 1 'listen on nowhere:' \
	build/bin/migrate-vm --monitor nowhere:x
expect "monclient --help" 0 '^usage: monclient' $C --help

finish
