# The two commands of the quick start: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup build demo test bench clean

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash scripts/demo.sh $(BUILD)/supportrl

test: build
	cd $(BUILD) && ctest --output-on-failure

bench: build
	bash scripts/setup.sh bench
	bash bench/compare.sh

clean:
	rm -rf $(BUILD)
