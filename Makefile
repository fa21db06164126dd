# vmpi: build, demo, tests. `make demo` and `make test` are the README quick start.
CARGO ?= cargo
RELEASE := target/release

.PHONY: all build demo test test-unit test-loom clean

all: build

# hwloc (CPU binding) is a build dependency: installed first where missing.
build:
	scripts/install-deps.sh build
	$(CARGO) build --release --workspace --all-targets

# The main job: 4 ranks of the ring/pi demo, printing the channel of every pair.
demo: build
	$(RELEASE)/mpirun -np 4 $(RELEASE)/examples/ring

# Every test: unit tests, the launcher's and the multi-process MPI tests (through
# mpirun and MPICH's Hydra, across namespace hosts, under Slurm, in QEMU VMs), the
# documentation example, and the loom model checks of the shared-memory inbox and
# of the collective area's protocol.
test: build
	scripts/install-deps.sh
	$(MAKE) vm-programs
	$(CARGO) test --release --workspace
	$(MAKE) test-loom

# What the VM tests boot (crates/testsuite/tests/vms.rs): the kernel and initramfs
# (target/vm, made once) and the programs the guests run, linked statically
# (target/vm/payload).
VM_STATIC := target/static/x86_64-unknown-linux-gnu/release
VM_PROGRAMS := vmpi-proxy vmpi-info vmpi-admin exchange matching coll_check hang crash vmpi-p2p-bench
.PHONY: vm-programs
vm-programs:
	scripts/vm/build-base.sh target/vm
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release \
		--target x86_64-unknown-linux-gnu --target-dir target/static \
		-p vmpi-testsuite -p vmpi-launch -p vmpi-tools -p vmpi-bench
	mkdir -p target/vm/payload
	for b in $(VM_PROGRAMS); do strip -o target/vm/payload/$$b $(VM_STATIC)/$$b; done
	cp scripts/vm/asuser target/vm/payload/asuser

test-loom:
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
		$(CARGO) test --release -p vmpi --lib -- transport::inbox coll::area_model

clean:
	$(CARGO) clean

# The C interface: libmpi.so (soname libmpi.so.12) and libmpi.a, the launchers and
# vmpi-info; the MPICH names of the library as links beside it in target/release.
.PHONY: capi install
capi:
	scripts/install-deps.sh build
	$(CARGO) build --release -p vmpi-capi -p vmpi-launch -p vmpi-tools
	cd $(RELEASE) && for l in libmpi.so.12 libmpich.so.12 libmpich.so; do ln -sf libmpi.so $$l; done

# make install PREFIX=/opt/vmpi: a relocatable tree (bin include lib share).
# NO_BUILD=1 installs what is built already (the tests use it: no nested cargo).
PREFIX ?= /usr/local
install: $(if $(NO_BUILD),,capi)
	crates/capi/install.sh $(PREFIX) $(abspath $(RELEASE))

# Benchmarks against MPICH and Open MPI (bench/compare.py, docs/performance.md):
#   make bench                     shared memory, 2 and 4 ranks, 3 interleaved runs
#   make bench SCENARIO=tcp        vmpi MV2_USE_SHARED_MEM=0 vs MPICH/Open MPI over TCP
#   make bench RUNS=5 NP="2" SIZES=1:64K BENCHES=latency,allreduce
# Results (tables, plots, raw outputs) go to results/<date>-<scenario>/.
.PHONY: bench
SCENARIO ?= shm
bench:
	scripts/install-bench-deps.sh
	SCENARIO="$(SCENARIO)" RUNS="$(RUNS)" NP="$(NP)" SIZES="$(SIZES)" BENCHES="$(BENCHES)" \
		bench/compare.py
