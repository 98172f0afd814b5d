# migrace: deterministic race reproduction for live-migration code.
#
#   make            build everything (the default goal, all): runtime, CLI, migrace-cc,
#                   cores, scenarios, demos, test programs, unit tests
#   make check      bootstrap dependencies, build, unit tests + acceptance tests
#   make run        bootstrap, build, run every scenario and print the matrix
#   make bench      measure the handoff, the fork server, the scenarios, exploration and
#                   faithfulness under load (writes build/bench/*.txt)
#   make fuzz       fuzz each parser of user files FUZZ_SECONDS (default 180; check: 20)
#   make results-load  regenerate only RESULTS.md's Under load section
#   make results    regenerate RESULTS.md from a bench run (hours: BENCH_CLEAN=0, BENCH_LOAD=0,
#                   BENCH_EXPLORE=0, BENCH_SCENARIOS=0 skip its long parts)
#   V=1             show full commands; CC= is respected (default clang)

ifeq ($(origin CC),default)
CC := clang
endif
ifeq ($(origin CC),environment)
override CC := $(CC)
endif
# C++ programs under the harness (build/bin/migrace-c++): clang++ unless CXX= says
ifeq ($(origin CXX),default)
CXX := clang++
endif

Q := $(if $(V),,@)
NPROC := $(shell nproc 2>/dev/null || echo 2)
B := build
FLAVOURS := tsan asan plain

WARN := -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
RT_CFLAGS := -std=gnu11 -O2 -g -fno-sanitize=all -fPIC $(WARN)

FLAV_tsan := -fsanitize=thread -g -O1
FLAV_asan := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
FLAV_plain := -g -O1

# The runtime, linked whole into every program migrace-cc links (its strong
# definitions must beat the sanitizers' weak ones, and an archive member is not
# pulled in for a name already defined); the fault points (faults.c, which
# needs libfiu) in an archive of their own, pulled in by -Wl,--wrap=fiu_fail
# only for programs that have fault points.
RT_SRC := $(filter-out harness/rt/faults.c,$(wildcard harness/rt/*.c))
RT_OBJ := $(patsubst harness/rt/%.c,$(B)/rt/%.o,$(RT_SRC)) $(B)/rt/selfpath.o
RT_LIB := $(B)/lib/libmigrace-rt.a
FAULTS_LIB := $(B)/lib/libmigrace-faults.a
# the names the executable exports, so that shared libraries' calls reach the
# runtime: every harness/rt/*.syms (intercept.h), as one dynamic list
INTERCEPT_SYMS := $(wildcard harness/rt/*.syms)
INTERCEPT_LIST := $(B)/lib/intercept.list
CLI := $(B)/bin/migrace
MCC := $(B)/bin/migrace-cc
MCXX := $(B)/bin/migrace-c++

DEMOS := counter_race counter_locked atomicity lock_order timeouts
DEMO_BINS := $(foreach f,$(FLAVOURS),$(addprefix $(B)/$(f)/demos/,$(DEMOS)))
TESTPROGS := $(basename $(notdir $(wildcard tests/accept/progs/*.c tests/accept/progs/*.cc)))
TESTPROG_BINS := $(foreach f,$(FLAVOURS),$(addprefix $(B)/$(f)/testprogs/,$(TESTPROGS)))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
CORE_UNIT_TESTS := $(filter $(B)/tests/test_core_% $(B)/tests/test_mgmt_%,$(UNIT_TESTS))
HARNESS_UNIT_TESTS := $(filter-out $(CORE_UNIT_TESTS),$(UNIT_TESTS))

# The migration core (core/migration, core/mgmt) and the fakes, as a library per build:
# plain for migrate-vm, asan for the core's unit tests (no sanitizer report
# may come from the core). Harness builds of the core come with the scenarios.
CORE_SRC := $(wildcard core/migration/*.c) $(wildcard core/mgmt/*.c) $(wildcard fakes/*.c)
CORE_CFLAGS := -std=gnu11 -pthread -g $(WARN) -Icore/migration -Icore/mgmt -Ifakes -Iharness/include
CORE_FLAV_plain := -O2
CORE_FLAV_asan := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -DMGMT_INVARIANTS
# the harness builds also compile the core's libfiu points (FIU_ENABLE): the
# runtime decides them (harness/rt/faults.c); none fires unless a run asks
# and calls the runtime before loads and stores (memory-access points, --preempt=mem;
# clang 14 emits the load/store hooks only with a coverage kind beside them);
# memhooks.h declares the hooks nocapture, so that a local whose address only
# a hook sees is no access TSan instruments
MEM_COV_FLAGS := -fsanitize-coverage=func,trace-pc-guard,trace-loads,trace-stores
MEM_COV := $(MEM_COV_FLAGS) -include migrace/memhooks.h
CORE_FLAV_tsan := -O1 -fsanitize=thread -DMIGRACE_SYNC_POINTS -DMGMT_INVARIANTS -DFIU_ENABLE $(MEM_COV)
CORE_FLAV_hasan := $(CORE_FLAV_asan) -DMIGRACE_SYNC_POINTS -DFIU_ENABLE $(MEM_COV)
CORE_LIB_plain := $(B)/plain/core/libcore.a
CORE_LIB_asan := $(B)/asan/core/libcore.a
# the harness build of the core: its sync points are on, and programs linking
# it are built with migrace-cc, so its threads run under the scheduler
CORE_LIB_tsan := $(B)/tsan/core/libcore.a
CORE_LIB_hasan := $(B)/hasan/core/libcore.a
# the core each harness flavour's programs link: sync points on
HCORE_tsan := tsan
HCORE_asan := hasan

# Scenarios: scenarios/<name>/scenario.c, built for tsan and asan against the
# real core (build/<f>/scenarios/<name>) and against the core with the
# scenario's regress.patch applied (build/<f>/scenarios/<name>.regressed).
SCENARIOS := $(sort $(patsubst scenarios/%/scenario.c,%,$(wildcard scenarios/*/scenario.c)))
SCEN_COMMON := $(wildcard scenarios/common/*.c)
SCEN_CFLAGS := $(CORE_CFLAGS) -Iscenarios/common
SCENARIO_BINS := $(foreach f,tsan asan,$(foreach s,$(SCENARIOS),$(B)/$(f)/scenarios/$(s) $(B)/$(f)/scenarios/$(s).regressed))
HARNESS_CORE_PROGS := $(foreach f,tsan asan,$(patsubst harness/core-progs/%.c,$(B)/$(f)/core-progs/%,$(wildcard harness/core-progs/*.c)))
# Workloads: harness/workloads/<name>.c (registry workloads.def), programs that
# drive a whole core at random (migrace_choose), built for tsan and asan against
# the real core (build/<f>/workloads/<name>) and against each scenario's
# regressed core (build/<f>/workloads/regressed/<scenario>/<name>).
WORKLOADS := $(sort $(basename $(notdir $(wildcard harness/workloads/*.c))))
WORKLOAD_BINS := $(foreach f,tsan asan,$(addprefix $(B)/$(f)/workloads/,$(WORKLOADS)))
WORKLOAD_REG_BINS := $(foreach f,tsan asan,$(foreach s,$(SCENARIOS),$(addprefix $(B)/$(f)/workloads/regressed/$(s)/,$(WORKLOADS))))
# the pure parts of the runtime, for the unit tests
UNIT_RT := $(B)/rt/model.o $(B)/rt/strategy.o $(B)/rt/trace.o $(B)/rt/classify.o

BENCH_BINS := $(B)/bench/futex_pingpong $(B)/tsan/bench/handoff $(B)/asan/bench/handoff \
	$(B)/plain/bench/handoff $(B)/tsan/bench/trivial $(B)/asan/bench/trivial \
	$(B)/bench/fork_floor_tsan $(B)/bench/fork_floor_asan
# The classic bug patterns (harness/bench/classic, scripts/bench-explore), each
# with its correct twin NAME.fixed (-DFIXED), built for tsan
CLASSIC := $(basename $(notdir $(wildcard harness/bench/classic/*.c)))
CLASSIC_BINS := $(addprefix $(B)/tsan/bench/classic/,$(CLASSIC) $(addsuffix .fixed,$(CLASSIC)))

.PHONY: all check run bench results results-load clean bootstrap unit accept bisect-vars fuzz FORCE
.DEFAULT_GOAL := all
FORCE:
MIGRATE_VM := $(B)/bin/migrate-vm
MIGRATE_VM_asan := $(B)/asan/bin/migrate-vm

all: $(RT_LIB) $(FAULTS_LIB) $(INTERCEPT_LIST) $(CLI) $(MCC) $(MCXX) $(DEMO_BINS) $(CORE_LIB_plain) $(CORE_LIB_asan) $(MIGRATE_VM) $(MIGRATE_VM_asan) \
	$(HARNESS_CORE_PROGS) $(SCENARIO_BINS) $(WORKLOAD_BINS)

$(MIGRATE_VM): core/migrate-vm/migrate_vm.c $(CORE_LIB_plain)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_plain) $< $(CORE_LIB_plain) -o $@

$(MIGRATE_VM_asan): core/migrate-vm/migrate_vm.c $(CORE_LIB_asan)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_asan) $< $(CORE_LIB_asan) -o $@

# the raw monitor client and the management driver of the acceptance tests
# (tests/accept/migrate_vm_monitor.sh)
MONCLIENT := $(B)/tests/monclient
MGMT_P2P := $(B)/tests/mgmt_p2p
all: $(MONCLIENT) $(MGMT_P2P)
# the acceptance tests' programs and the unit tests are part of everything
all: $(TESTPROG_BINS) $(UNIT_TESTS) $(CLASSIC_BINS)
$(MGMT_P2P): tests/accept/tools/mgmt_p2p.c $(CORE_LIB_plain)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_plain) $< $(CORE_LIB_plain) -o $@

$(MONCLIENT): tests/accept/tools/monclient.c tests/unit/mon_client.h $(CORE_LIB_plain)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_plain) $< $(CORE_LIB_plain) -o $@

bootstrap:
	$(Q)scripts/bootstrap

$(B)/rt/%.o: harness/rt/%.c $(wildcard harness/rt/*.h) harness/include/migrace/*.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(RT_CFLAGS) -Iharness/include -c $< -o $@

# where migrace is, for the repro lines of programs run by hand
$(B)/rt/selfpath.c:
	@mkdir -p $(@D)
	$(Q)printf 'const char migrace_default_self[] = "%s";\n' "$(abspath $(CLI))" > $@

$(B)/rt/selfpath.o: $(B)/rt/selfpath.c
	$(Q)$(CC) $(RT_CFLAGS) -c $< -o $@

$(RT_LIB): $(RT_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FAULTS_LIB): $(B)/rt/faults.o
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# names separated by blanks and newlines, # to the end of a line a comment
$(INTERCEPT_LIST): $(INTERCEPT_SYMS)
	@mkdir -p $(@D)
	$(Q){ echo '{'; sed 's/#.*//' $^ | tr -s ' \t\n' '\n\n\n' | sed -n 's/^\(..*\)$$/  \1;/p' | sort -u; echo '};'; } > $@.new && mv $@.new $@

$(MCC): harness/cli/migrace-cc.in $(INTERCEPT_LIST) $(RT_LIB) $(FAULTS_LIB)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@CC@|$(CC)|' -e 's|@CXX@|$(CXX)|' -e 's|@MEM_COV@|$(MEM_COV_FLAGS)|' $< > $@ && chmod +x $@

# the same script: named migrace-c++, it compiles and links C++
$(MCXX): $(MCC)
	$(Q)ln -sf migrace-cc $@

# migrace --version: the release and the commit it was built from, in a
# header rewritten only when it changes
VERSION := 0.2.0
$(B)/cli/version.h: FORCE
	@mkdir -p $(@D)
	@echo '#define MIGRACE_VERSION "$(VERSION) ($(shell git describe --always --dirty 2>/dev/null || echo no git))"' > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@

$(CLI): $(wildcard harness/cli/*.c harness/cli/*.h) harness/cli/demos.def scenarios/scenarios.def harness/workloads/workloads.def $(B)/cli/version.h \
	$(B)/rt/trace.o $(B)/rt/classify.o $(B)/rt/model.o $(B)/rt/strategy.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -Iharness/rt -Iharness/include -include $(B)/cli/version.h \
		$(filter %.c %.o,$^) -o $@

define flavour_rules
$(B)/$(1)/demos/%: harness/demos/%.c $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) $$< -o $$@

$(B)/$(1)/testprogs/%: tests/accept/progs/%.c $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) $$< -o $$@

$(B)/$(1)/testprogs/%: tests/accept/progs/%.cc $(MCXX) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCXX    $$@")
	$(Q)$(MCXX) --$(1) $(WARN) $$< -o $$@

$(B)/$(1)/bench/%: harness/bench/%.c $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	$(Q)$(MCC) --$(1) -O2 $$< -o $$@

$(B)/$(1)/bench/classic/%: harness/bench/classic/%.c $(wildcard harness/bench/classic/*.c) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) $$< -o $$@

$(B)/$(1)/bench/classic/%.fixed: harness/bench/classic/%.c $(wildcard harness/bench/classic/*.c) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) -DFIXED $$< -o $$@
endef
$(foreach f,$(FLAVOURS),$(eval $(call flavour_rules,$(f))))

# Code as it is in the wild (tests/accept/wild.sh): programs under
# tests/accept/progs/wild that use GLib (pkg-config glib-2.0, from Debian's
# libglib2.0-dev) or a library of our own built with plain clang, not
# migrace-cc (libcbthreads.so, one build shared by every flavour's program).
GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS := $(shell pkg-config --libs glib-2.0 2>/dev/null || echo -lglib-2.0)
WILD := tests/accept/progs/wild
WILD_LIB := $(B)/wildlib/libcbthreads.so
WILD_EARLY := $(B)/wildlib/libearly.so
WILD_BINS := $(foreach f,$(FLAVOURS),$(addprefix $(B)/$(f)/testprogs/wild/,glib_pool lib_threads early_thread))
all: $(WILD_BINS)

$(B)/wildlib/lib%.so: $(WILD)/lib%.c $(wildcard $(WILD)/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) -std=gnu11 -O1 -g -fPIC -shared -pthread $(WARN) $< -o $@

define wild_rules
$(B)/$(1)/testprogs/wild/glib_pool: $(WILD)/glib_pool.c $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) $(GLIB_CFLAGS) $$< $(GLIB_LIBS) -o $$@

$(B)/$(1)/testprogs/wild/lib_threads: $(WILD)/lib_threads.c $(WILD_LIB) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) -I$(WILD) $$< -L$(B)/wildlib -lcbthreads -Wl,-rpath,$(abspath $(B)/wildlib) -o $$@

$(B)/$(1)/testprogs/wild/early_thread: $(WILD)/early_thread.c $(WILD_EARLY) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(WARN) $$< -L$(B)/wildlib -learly -Wl,-rpath,$(abspath $(B)/wildlib) -o $$@
endef
$(foreach f,$(FLAVOURS),$(eval $(call wild_rules,$(f))))

$(B)/bench/futex_pingpong: harness/bench/futex_pingpong.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -pthread $< -o $@

# the fork-and-two-threads floor under bench/trivial, with trivial's sanitizer, no harness
$(B)/bench/fork_floor_%: harness/bench/fork_floor.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -pthread $(FLAV_$*) $< -o $@

$(HARNESS_UNIT_TESTS): $(B)/tests/%: tests/unit/%.c $(UNIT_RT)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) -std=gnu11 -g -O1 $(WARN) -Iharness/rt -Iharness/include $< $(UNIT_RT) -lcmocka -o $@

# A flavour's compiler and flags, in a file rewritten only when they change:
# its objects depend on it, so a change of flags rebuilds them.
define core_rules
$(B)/$(1)/core/flags: FORCE
	@mkdir -p $$(@D)
	@echo '$(CC) $(CORE_CFLAGS) $(CORE_FLAV_$(1))' > $$@.new
	@cmp -s $$@.new $$@ && rm -f $$@.new || mv $$@.new $$@

$(B)/$(1)/core/%.o: %.c $(B)/$(1)/core/flags $(wildcard core/migration/*.h core/migration/*.def core/mgmt/*.h core/mgmt/*.def fakes/*.h)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  CC      $$@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_$(1)) -c $$< -o $$@

$(CORE_LIB_$(1)): $(patsubst %.c,$(B)/$(1)/core/%.o,$(CORE_SRC))
	@mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach f,plain asan tsan hasan,$(eval $(call core_rules,$(f))))

define scenario_rules
$(B)/$(1)/scenarios/%: scenarios/%/scenario.c $(SCEN_COMMON) $(CORE_LIB_$(HCORE_$(1))) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(SCEN_CFLAGS) $$< $(SCEN_COMMON) $(CORE_LIB_$(HCORE_$(1))) -o $$@

$(B)/$(1)/regressed/%/libcore.a: scenarios/%/regress.patch $(CORE_LIB_$(HCORE_$(1))) scripts/regressed-core
	@$$(if $(Q),echo "  PATCH   $$(@D)")
	$(Q)RC_CC="$(CC)" RC_CFLAGS="$(CORE_CFLAGS) $(CORE_FLAV_$(HCORE_$(1)))" scripts/regressed-core \
		$$* $$(@D) $(B)/$(HCORE_$(1))/core $(CORE_SRC)

$(B)/$(1)/scenarios/%.regressed: scenarios/%/scenario.c $(SCEN_COMMON) $(B)/$(1)/regressed/%/libcore.a $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) -I$(B)/$(1)/regressed/$$*/src/core/migration -I$(B)/$(1)/regressed/$$*/src/core/mgmt \
		$(SCEN_CFLAGS) $$< $(SCEN_COMMON) $(B)/$(1)/regressed/$$*/libcore.a -o $$@
endef
$(foreach f,tsan asan,$(eval $(call scenario_rules,$(f))))

# What scripts/bisect builds a scenario with, as shell assignments: the same
# compiler, flags and sources as the scenario_rules above, for each harness build.
bisect-vars:
	@echo "BV_CC='$(CC)'"
	@echo "BV_MCC='$(MCC)' BV_RT_LIB='$(RT_LIB)' BV_CLI='$(CLI)'"
	@echo "BV_SCEN_CFLAGS='$(SCEN_CFLAGS)' BV_SCEN_COMMON='$(SCEN_COMMON)'"
	@echo "BV_FAKE_SRC='$(filter fakes/%,$(CORE_SRC))'"
	@$(foreach f,tsan asan,echo "BV_HCORE_$(f)='$(HCORE_$(f))' BV_CORE_CFLAGS_$(f)='$(CORE_CFLAGS) $(CORE_FLAV_$(HCORE_$(f)))'";)

# The core programs end a migration as the scenarios do (scenarios/common/mig_run.c).
PROG_COMMON := scenarios/common/mig_run.c
define core_prog_rules
$(B)/$(1)/core-progs/%: harness/core-progs/%.c $(PROG_COMMON) $(CORE_LIB_$(HCORE_$(1))) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(CORE_CFLAGS) -Iscenarios/common $$< $(PROG_COMMON) $(CORE_LIB_$(HCORE_$(1))) -o $$@
endef
$(foreach f,tsan asan,$(eval $(call core_prog_rules,$(f))))

define workload_rules
$(B)/$(1)/workloads/%: harness/workloads/%.c $(CORE_LIB_$(HCORE_$(1))) $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) $(CORE_CFLAGS) $$< $(CORE_LIB_$(HCORE_$(1))) -o $$@
endef
$(foreach f,tsan asan,$(eval $(call workload_rules,$(f))))

# a workload against a scenario's regressed core (make workloads-regressed: all of them)
define workload_reg_rule
$(B)/$(1)/workloads/regressed/$(2)/$(3): harness/workloads/$(3).c $(B)/$(1)/regressed/$(2)/libcore.a $(MCC) $(RT_LIB)
	@mkdir -p $$(@D)
	@$$(if $(Q),echo "  MCC     $$@")
	$(Q)$(MCC) --$(1) -I$(B)/$(1)/regressed/$(2)/src/core/migration -I$(B)/$(1)/regressed/$(2)/src/core/mgmt \
		$(CORE_CFLAGS) $$< $(B)/$(1)/regressed/$(2)/libcore.a -o $$@
endef
$(foreach f,tsan asan,$(foreach s,$(SCENARIOS),$(foreach w,$(WORKLOADS),$(eval $(call workload_reg_rule,$(f),$(s),$(w))))))
.PHONY: workloads-regressed workload-core
workloads-regressed: $(WORKLOAD_REG_BINS)

# A workload against the core in WL_CORE (a core/ directory, as scripts/bisect
# takes it), compiled with this Makefile's flags: WL=name WL_BUILD=tsan|asan
# WL_OUT=dir; the program is WL_OUT/WL (migrace hunt --workload W --core DIR).
workload-core: $(MCC) $(RT_LIB)
	$(Q)test -n "$(WL)" -a -n "$(WL_CORE)" -a -n "$(WL_OUT)" -a -f "harness/workloads/$(WL).c" || \
		{ echo "workload-core: needs WL=<workload> WL_CORE=<dir> WL_OUT=<dir>" >&2; exit 2; }
	$(Q)test -d "$(WL_CORE)/migration" || { echo "workload-core: $(WL_CORE) is not a core/ directory (no migration/ in it)" >&2; exit 2; }
	$(Q)srcs=$$(cd "$(WL_CORE)" && ls migration/*.c mgmt/*.c 2>/dev/null | sed 's|^|core/|'); \
	RC_CC="$(CC)" RC_CFLAGS="$(CORE_CFLAGS) $(CORE_FLAV_$(HCORE_$(or $(WL_BUILD),tsan)))" \
		scripts/regressed-core --core "$(abspath $(WL_CORE))" "$(WL_OUT)" - $$srcs $(filter fakes/%,$(CORE_SRC)) && \
	$(MCC) --$(or $(WL_BUILD),tsan) -I$(WL_OUT)/src/core/migration -I$(WL_OUT)/src/core/mgmt $(CORE_CFLAGS) \
		harness/workloads/$(WL).c $(WL_OUT)/libcore.a -o $(WL_OUT)/$(WL)

$(CORE_UNIT_TESTS): $(B)/tests/%: tests/unit/%.c $(CORE_LIB_asan)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CORE_CFLAGS) $(CORE_FLAV_asan) $< $(CORE_LIB_asan) -lcmocka -o $@

unit: $(UNIT_TESTS)
accept: all

check: bootstrap
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all $(FUZZ_BINS)
	$(Q)tests/run-all $(UNIT_TESTS)

run: bootstrap
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)rm -rf $(B)/run && mkdir -p $(B)/run
	$(Q)$(CLI) run --all --out $(B)/run/traces --junit $(B)/run/junit.xml

bench: bootstrap
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)scripts/bench

# the "Under load" section alone (scripts/bench-load, ~30 minutes; its
# BENCH_LOAD_PARTS chooses parts), spliced into RESULTS.md
results-load: bootstrap
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench-load
	$(Q)scripts/gen-results --load-only > $(B)/bench/load.md
	$(Q)scripts/splice-results "Under load" $(B)/bench/load.md
	@echo "RESULTS.md: the Under load section regenerated"

results: bench
	$(Q)scripts/gen-results > RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
	@echo "RESULTS.md regenerated"

# libFuzzer targets of the parsers that read what users hand us (tests/fuzz):
# tests/fuzz/fuzz_NAME.c with its seed corpus tests/fuzz/corpus/NAME. The
# parsers are compiled into each target with the fuzzer's instrumentation;
# the log scanner of `reproduce` comes with the rest of the command line.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 180
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer $(WARN) -Iharness/rt -Iharness/include
FUZZ_RT := harness/rt/trace.c harness/rt/strategy.c harness/rt/model.c harness/rt/classify.c
FUZZ_CLI := $(filter-out harness/cli/reproduce.c,$(wildcard harness/cli/*.c))
FUZZ_BINS := $(patsubst tests/fuzz/fuzz_%.c,$(B)/fuzz/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_RT) $(wildcard harness/rt/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_RT) -o $@

$(B)/fuzz/fuzz_reproduce: tests/fuzz/fuzz_reproduce.c $(FUZZ_RT) $(wildcard harness/rt/*.h harness/cli/*.c harness/cli/*.h) \
		harness/cli/demos.def scenarios/scenarios.def
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Dmain=migrace_cli_main $< $(FUZZ_CLI) $(FUZZ_RT) -o $@

fuzz: $(FUZZ_BINS)
	$(Q)FUZZ_SEED=0 tests/fuzz/run $(FUZZ_SECONDS)

clean:
	rm -rf $(B) migrace-out
.SECONDARY:

# the man pages of migrace and migrace-cc, from the text of docs/commands.md
.PHONY: man
man: $(B)/man/migrace.1 $(B)/man/migrace-cc.1
$(B)/man/migrace.1 $(B)/man/migrace-cc.1 &: docs/commands.md README.md scripts/gen-man
	$(Q)scripts/gen-man $(VERSION) $(B)/man
