# nntrain: data-parallel neural-network training in C.
#
#   make                 build/nntrain and build/libnntrain.a (MPI on)
#   make MPI=0           a binary with no MPI dependency
#   make SANITIZE=1      ASan + UBSan build (in build/asan)
#   make DEBUG=1         -O0 -g
#   make test            unit tests (CUnit) + CLI + multi-rank tests + ONNX export (tests/onnx)
#   make bench           throughput benchmarks (tests/bench)
#   make deps            install the Debian packages for build, run and test (sudo when not root)
#   make deps-fuzz       the same plus the fuzzing-only ones (clang, libFuzzer's runtime)
#   make check-deps      say what the build and make mnist lack (installs nothing, no root)
#   make mnist           the main job: check-deps, build, data, train + evaluate the MNIST MLP
#                        into build/results/mnist/mlp (git-ignored); make mnist UPDATE=1
#                        writes the committed run, results/mnist/mlp, instead
#   make CUDA=1          also the CUDA backend (nvcc at CUDA_HOME, default /usr/local/cuda):
#                        build/cuda/nntrain; make CUDA=1 test-cuda runs tests/cuda

MPI      ?= 1
CUDA     ?= 0
DEBUG    ?= 0
SANITIZE ?=

BUILD ?= build
# override: a BUILD given on the command line still gets the sub-folders,
# so a sanitized or serial build never reuses another build's objects.
ifeq ($(SANITIZE),1)
  override BUILD := $(BUILD)/asan
endif
ifeq ($(MPI),0)
  override BUILD := $(BUILD)/serial
endif
ifeq ($(CUDA),1)
  CUDA_HOME ?= /usr/local/cuda
  NVCC := $(CUDA_HOME)/bin/nvcc
  ifeq ($(wildcard $(NVCC)),)
    $(error CUDA=1: no nvcc at $(NVCC): set CUDA_HOME to a CUDA toolkit, or build without CUDA=1 for the CPU backend)
  endif
  override BUILD := $(BUILD)/cuda
  # sm_90 (H100/H200) machine code, plus PTX that newer GPUs compile at load time.
  CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
               -gencode arch=compute_90,code=compute_90
  NVCCFLAGS := -std=c++17 -O2 -Iinclude $(CUDA_ARCH) -Xcompiler -Wall,-Wextra
endif

ifeq ($(MPI),1)
  CC := mpicc
else
  CC ?= cc
endif

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5-serial 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

# -fno-math-errno: sqrtf/fmaxf in hot loops vectorise (nntrain never reads errno from math).
# -fno-trapping-math: float selects (vexpf's clamps) if-convert, so exp-based loops (sigmoid,
# tanh, gelu) vectorise; nntrain never enables FP exceptions. Values are unchanged.
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -fno-math-errno -fno-trapping-math \
           -Iinclude $(HDF5_CFLAGS) -MMD -MP
ifeq ($(DEBUG),1)
  CFLAGS += -O0 -g
else
  CFLAGS += -O3 -g
endif
ifeq ($(SANITIZE),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
ifdef WERROR
  CFLAGS += -Werror
endif
# Experiments: make BUILD=/tmp/v EXTRA_CFLAGS=-DCONV_COL_BUDGET=2097152, then tests/bench/ab.sh.
CFLAGS += $(EXTRA_CFLAGS)
LDLIBS := $(HDF5_LIBS) -lopenblas -lz -lm -lpthread -ljpeg -lpng
ifeq ($(CUDA),1)
  # The host code of a CUDA build compiles with -Werror (issue 12).
  CFLAGS += -DNN_CUDA -I$(CUDA_HOME)/include -Werror
  LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
endif

LIB_SRC := $(wildcard src/train/*.c src/net/*.c src/core/*.c src/layers/*.c src/optim/*.c src/data/*.c src/io/*.c \
                      src/backend/*.c)
ifeq ($(MPI),1)
  LIB_SRC += src/dist/dist_mpi.c src/dist/gather.c
else
  LIB_SRC += src/dist/dist_serial.c src/dist/gather.c
endif
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
ifeq ($(CUDA),1)
  LIB_OBJ += $(BUILD)/obj/src/backend/cuda/cuda_backend.o
endif
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# docs/cli.md is generated from the flag and command tables; CI runs
# `make check-docs`, which fails when the checked-in file differs.
docs: $(BUILD)/nntrain
	$(BUILD)/nntrain help --markdown > docs/cli.md
check-docs: $(BUILD)/nntrain
	@$(BUILD)/nntrain help --markdown | diff -u docs/cli.md - > /dev/null || \
	  { echo "docs/cli.md differs from what build/nntrain generates: run make docs"; \
	    $(BUILD)/nntrain help --markdown | diff -u docs/cli.md - | head -40; exit 1; }
	@echo "docs/cli.md matches the flag table"

.PHONY: docs check-docs
.PHONY: all test unit-test cli-test mpi-test onnx-test test-slurm test-cuda bench deps deps-fuzz check-deps clean data mnist fuzz
all: $(BUILD)/nntrain

# ONNX export (nntrain export, src/io/onnx.c): C code that protoc-c generates
# from Debian's onnx.proto (libonnx-dev) at build time into $(BUILD)/gen,
# linked with libprotobuf-c. Optional: where the packages are missing (or with
# ONNX=0) the build goes on and `nntrain export` says what to install.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
PROTOC_C   ?= protoc-c
ifndef ONNX
  ONNX := $(if $(and $(wildcard $(ONNX_PROTO)),$(shell command -v $(PROTOC_C) 2>/dev/null),$(shell pkg-config --exists libprotobuf-c 2>/dev/null && echo y)),1,0)
endif
ifeq ($(ONNX),1)
  ONNX_GEN := $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
  CFLAGS   += -DNN_ONNX -I$(BUILD)/gen
  LDLIBS   += $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)
  LIB_OBJ  += $(BUILD)/obj/gen/onnx.pb-c.o
endif

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(notdir $(ONNX_PROTO))

$(BUILD)/obj/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# onnx.c includes the generated header (order-only: rebuilt when it changes
# through the .d file).
$(BUILD)/obj/src/io/onnx.o: | $(ONNX_GEN)

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

# The version --version prints: the commit (git describe), kept in a stamp
# that changes only when the commit does, so help.o alone is rebuilt.
NN_VERSION := 0.9-$(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(NN_VERSION)' | cmp -s - $@ || echo '$(NN_VERSION)' > $@
$(BUILD)/obj/src/cli/help.o: $(BUILD)/version.stamp
$(BUILD)/obj/src/cli/help.o: CFLAGS += -DNN_VERSION='"$(NN_VERSION)"'
.PHONY: FORCE
FORCE:

$(BUILD)/libnntrain.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libexec/nntrain: $(CLI_OBJ) $(BUILD)/libnntrain.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# build/nntrain is a static launcher of build/libexec/nntrain that blocks the
# stop signals across the real binary's dynamic loading (src/launcher/nntrain.c):
# a SIGTERM in its first milliseconds is then caught (exit 75), not fatal (143).
LAUNCH_CC ?= cc
$(BUILD)/nntrain: src/launcher/nntrain.c $(BUILD)/libexec/nntrain Makefile
	$(LAUNCH_CC) -std=c11 -O2 -Wall -Wextra -static -o $@ $<

$(BUILD)/tests/unit_tests: $(TEST_OBJ) $(BUILD)/libnntrain.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

# The unit tests run with one OpenBLAS thread: results must not depend on it.
unit-test: $(BUILD)/tests/unit_tests $(BUILD)/nntrain
	cd tests && OPENBLAS_NUM_THREADS=1 NNTRAIN=../$(BUILD)/nntrain ../$(BUILD)/tests/unit_tests

cli-test: $(BUILD)/nntrain
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/run.sh
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/faults.sh
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/io.sh
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/gan.sh
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/stream.sh
	NNTRAIN=$(BUILD)/nntrain bash tests/cli/surface.sh
	bash tests/cli/launch.sh

mpi-test: $(BUILD)/nntrain
	NNTRAIN=$(BUILD)/nntrain bash tests/mpi/run.sh

test: unit-test cli-test $(if $(filter 1,$(MPI)),mpi-test) test-cuda onnx-test

# nntrain export against ONNX Runtime (tests/onnx/run.sh): short-trained nets
# on the real test sets; a skip line where the exporter, node, the npm package
# or a data set is missing. onnx_dump: nntrain's own probabilities and images.
$(BUILD)/tests/onnx_dump: $(BUILD)/obj/tests/onnx/onnx_dump.o $(BUILD)/libnntrain.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

onnx-test: $(BUILD)/nntrain $(BUILD)/tests/onnx_dump
	NNTRAIN=$(BUILD)/nntrain ONNX_DUMP=$(BUILD)/tests/onnx_dump bash tests/onnx/run.sh

# The CUDA backend against the CPU's, op by op and end to end (a skip line
# and success when the binary has no CUDA or no GPU is visible).
$(BUILD)/tests/cuda_ops: $(BUILD)/obj/tests/cuda/test_ops.o $(BUILD)/libnntrain.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test-cuda: $(BUILD)/nntrain $(if $(filter 1,$(CUDA)),$(BUILD)/tests/cuda_ops)
	NNTRAIN=$(BUILD)/nntrain CUDA_OPS=$(if $(filter 1,$(CUDA)),$(BUILD)/tests/cuda_ops) bash tests/cuda/run.sh

test-slurm: $(BUILD)/nntrain
	NNTRAIN=$(BUILD)/nntrain bash tests/slurm/run.sh

bench: $(BUILD)/nntrain
	NNTRAIN=$(BUILD)/nntrain bash tests/bench/run.sh

# Debian packages (.ci/deps.sh: the names, and what to install elsewhere).
deps:
	bash .ci/deps.sh
deps-fuzz:
	bash .ci/deps.sh --fuzz

# What the build and make mnist need, checked by compiling against it: no root, any distribution.
check-deps:
	@CC='$(CC)' HDF5_CFLAGS='$(HDF5_CFLAGS)' HDF5_LIBS='$(HDF5_LIBS)' bash .ci/check-deps.sh

data:
	datasets/fetch mnist

# The main job on a fresh machine: check the dependencies (installs nothing;
# `make deps` does, on Debian), build, fetch MNIST, train the course's network
# (784-100 sigmoid-10, SGD) from scratch, evaluate it. The run goes to
# build/results/mnist/mlp, which git ignores, so a clone stays clean;
# UPDATE=1 writes the committed run, results/mnist/mlp, instead (MNIST_RUN=DIR:
# anywhere else). A checkpoint left there by an earlier run is removed first:
# this target always trains from scratch.
ifeq ($(UPDATE),1)
  MNIST_RUN ?= results/mnist/mlp
else
  MNIST_RUN ?= build/results/mnist/mlp
endif
mnist: check-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory data
	@mkdir -p $(MNIST_RUN)
	$(BUILD)/nntrain train --data mnist --model mlp --epochs 20 --batch 100 --lr 1.0 --threads 1 \
	    --force --out $(MNIST_RUN)
	$(BUILD)/nntrain eval --data mnist --checkpoint $(MNIST_RUN)/checkpoint.h5 \
	    --confusion-csv $(MNIST_RUN)/confusion.csv --confusion-png $(MNIST_RUN)/confusion.png \
	    | tee $(MNIST_RUN)/eval.txt
	@echo "make mnist: the run is in $(MNIST_RUN)/ (history.csv, loss.png, accuracy.png, eval.txt, confusion.png, checkpoint.h5)"

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/obj/tests/onnx/onnx_dump.d

# ---- fuzzing: clang's libFuzzer with ASan + UBSan (tests/fuzz/README.md) ----
#   make fuzz [FUZZ_SECONDS=30] [FUZZ_TARGETS="idx cifar folder spec ckpt"]
#   make fuzz FUZZ_RUNS=20000 FUZZ_SEED=1      (the same inputs every time: CI)
# builds the targets into build/fuzz/, replays tests/fuzz/crashes/<target>-*,
# and runs each for FUZZ_SECONDS (or FUZZ_RUNS inputs) from its seed corpus
# (tests/fuzz/corpus/<target>), printing executions and findings; fails on any
# finding. The library is compiled again with clang, the
# sanitizers and -fsanitize=fuzzer-no-link, serial (dist_serial.c) whatever MPI
# says, with a 1 MP image limit (NN_MAX_IMAGE_PIXELS) so decoding stays fast, and a
# 1 GB limit on a net's buffers (NN_MAX_NET_BYTES) below libFuzzer's 2 GB malloc limit.
# Needs clang and its fuzzer runtime (make deps-fuzz; Debian: clang, libclang-rt-14-dev).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_RUNS    ?=
FUZZ_SEED    ?= 0
FUZZ_DIR     ?= build/fuzz
FUZZ_TARGETS ?= idx cifar folder spec ckpt
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow \
                -Iinclude $(HDF5_CFLAGS) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -DNN_MAX_IMAGE_PIXELS=1048576u -DNN_MAX_NET_BYTES='(1ull << 30)' \
                $(if $(WERROR),-Werror)
FUZZ_LIB_SRC := $(wildcard src/train/*.c src/net/*.c src/core/*.c src/layers/*.c src/optim/*.c src/data/*.c src/io/*.c \
                           src/backend/*.c) src/dist/dist_serial.c src/dist/gather.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)

$(FUZZ_DIR)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libnntrain.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/libnntrain.a Makefile
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libnntrain.a $(LDLIBS)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SEED=$(FUZZ_SEED) \
	    bash tests/fuzz/run.sh $(FUZZ_TARGETS)

-include $(FUZZ_LIB_OBJ:.o=.d)
