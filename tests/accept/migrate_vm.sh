#!/bin/bash
# migrate-vm: a guest that dirties memory migrates between two processes and
# the destination's memory is verified against the source's final state; a
# cancelled migration leaves the guest running on the source only; in
# cpr-transfer mode the RAM and the device go over first; multifd sends the
# pages over more channels; postcopy runs the guest on the destination early,
# pauses on both sides when the channel breaks and recovers on a new one.
# Plain and ASan builds.
. tests/accept/lib.bash

for b in plain asan; do
	V=build/bin/migrate-vm
	[ $b = asan ] && V=build/asan/bin/migrate-vm
	expect "$b: a 32 MiB guest migrates, memory verified" 0 'completed, .*: verified$' \
		timeout 120 $V --ram 32
	expect "$b: with a bandwidth limit, while the guest dirties memory" 0 \
		'completed, .* guest writes [1-9][0-9]*: verified$' timeout 120 $V --ram 16 --bandwidth 100
	expect "$b: multifd over 2 channels, memory verified" 0 '2 multifd channels, .*: verified$' \
		timeout 120 $V --ram 32 --multifd 2
	expect "$b: multifd over 3 channels, many passes (a sync each), memory verified" 0 \
		'3 multifd channels, [0-9]+ iterations.*: verified$' timeout 120 $V --ram 16 --multifd 3 --downtime 1
	expect "$b: multifd cancelled midway, the guest runs on the source only" 0 'cancelled, .*: verified$' \
		timeout 120 $V --ram 32 --multifd 2 --bandwidth 10 --cancel-after 200
	expect "$b: cpr-transfer: RAM and device handed over, the destination owns the device" 0 \
		'cpr-transfer completed, .*: verified$' timeout 120 $V --mode cpr --ram 32
	expect "$b: cancelled at once, the guest runs on the source only" 0 'cancelled, .*: verified$' \
		timeout 120 $V --ram 16 --cancel-after 0
	expect "$b: cancelled midway, the guest runs on the source only" 0 'cancelled, .*: verified$' \
		timeout 120 $V --ram 32 --bandwidth 10 --cancel-after 200
	# postcopy: the destination's vCPUs fault on missing pages and request them
	expect "$b: postcopy: the guest runs on the destination, requested pages served, memory verified" 0 \
		'postcopy: [1-9][0-9]* page requests, [1-9][0-9]* pages sent for them, [1-9][0-9]* placed' \
		timeout 120 $V --ram 32 --postcopy --bandwidth 200
	expect "$b: postcopy: completed and verified (pages as they arrived == the source's at its stop, one start)" 0 \
		'completed, .*: verified$' timeout 120 $V --ram 16 --postcopy
	# a channel failure in postcopy: both sides pause, the guest runs on the destination
	expect "$b: postcopy, channel broken: postcopy-paused on both sides, the guest running on the destination" 0 \
		'paused 1 times on the source, 1 on the destination, the guest running there' \
		timeout 120 $V --ram 32 --postcopy --fail-after 10
	expect "$b: postcopy, channel broken: the end is verified as paused" 0 'postcopy-paused, .*: verified$' \
		timeout 120 $V --ram 32 --postcopy --fail-after 10
	# ... and recovers on a new channel, then completes with the memory verified
	expect "$b: postcopy recovered after a channel failure: paused on both sides, then completed and verified" 0 \
		'paused [1-9][0-9]* times on the source, [1-9][0-9]* on the destination, the guest running there' \
		timeout 120 $V --ram 32 --postcopy --fail-after 10 --recover
	expect "$b: postcopy recovered: completed, memory verified, the guest started once" 0 'completed, .*: verified$' \
		timeout 120 $V --ram 32 --postcopy --fail-after 20 --recover
done
expect "a cancel that comes too late fails --cancel-after, naming why" 1 'cancel came too late' \
	timeout 120 build/bin/migrate-vm --ram 4 --vcpus 0 --cancel-after 3000
expect "migrate-vm --help" 0 '^usage: migrate-vm' build/bin/migrate-vm --help
expect "migrate-vm rejects a bad --ram" 2 "\-\-ram needs a number" build/bin/migrate-vm --ram 0
expect "migrate-vm rejects a bad --mode" 2 "\-\-mode must be precopy or cpr" build/bin/migrate-vm --mode warp
expect "migrate-vm rejects too many multifd channels" 2 "\-\-multifd needs a number from 0 to 16" \
	build/bin/migrate-vm --multifd 17
expect "migrate-vm rejects --postcopy with --multifd" 2 'postcopy goes with neither' \
	build/bin/migrate-vm --postcopy --multifd 2
expect "migrate-vm rejects --fail-after without --postcopy" 2 'it needs --postcopy' \
	build/bin/migrate-vm --fail-after 10
expect "migrate-vm rejects --recover without --fail-after" 2 'recover needs --fail-after' \
	build/bin/migrate-vm --postcopy --recover
expect "migrate-vm says cpr with a cancel is not implemented yet" 2 'not implemented yet' \
	build/bin/migrate-vm --mode cpr --cancel-after 10

finish
