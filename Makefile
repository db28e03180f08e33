# The Unix domain sockets lab.  "make help" lists what you can do.
#
# Everything is built under build/ (sources are never touched).  Every lab
# program is compiled with -I trace/include: the wrapper headers there are
# found before the system's own (<sys/socket.h>, <unistd.h>, <sys/wait.h>),
# include them, and then make each lifecycle call visible in the trace.
# The programs themselves are plain POSIX C that state their own feature
# macros (#define _POSIX_C_SOURCE 200809L at the top), so that each also
# builds outside the lab: cc -std=c11 server.c.

MAKEFLAGS += --no-builtin-rules
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

CC ?= cc
CFLAGS ?= -O2 -g
LAB_CFLAGS := -std=c11 -Wall -Wextra -Werror -pedantic
LAB_CPPFLAGS := -Itrace/include
# The wrapper headers: every lab program depends on them.
TRACE_HEADERS := $(wildcard trace/include/*.h trace/include/*/*.h)
B ?= build
ifneq ($(wildcard $(B)),$(patsubst %/.,%,$(wildcard $(B)/.)))
$(error $(B) is not a directory: the lab builds everything into it. Move \
	it away (mv $(B) $(B).old), then run make again)
endif

# A change of compiler or flags rebuilds what it must: they are kept in
# $(B)/flags, on which every program depends, rewritten only when they
# change (CC=clang, CFLAGS=-O0, LDLIBS=...).
BUILD_FLAGS := $(CC) | $(CPPFLAGS) | $(CFLAGS) | $(LDFLAGS) | $(LDLIBS)
FLAGS_FILE := $(B)/flags
ifneq ($(file <$(FLAGS_FILE)),$(BUILD_FLAGS))
$(shell mkdir -p $(B))
$(file >$(FLAGS_FILE),$(BUILD_FLAGS))
endif

# The lessons are the ones lessons/lessons.json lists, even one whose
# folder is missing (make reset puts its starter code back).
LESSONS := $(sort $(shell grep -oE '"id": "[0-9]{2}-[a-z0-9-]+"' \
	lessons/lessons.json | cut -d'"' -f4))
programs_in = $(patsubst %.c,$(B)/%,$(wildcard $(1)/*.c))
# A lesson's programs are the ones its steps run (lessons/lessons.json:
# server, client).  A program of the learner's own beside them, NAME.c, is
# built when asked for (make build/lessons/05-read-write/NAME), never by
# make check, progress or grade: it cannot change a lesson's checks.
LAB_PROGRAMS := $(sort $(shell grep -oE '\["(run|start)", "[a-z0-9_-]+"' \
	lessons/lessons.json | cut -d'"' -f4))
lesson_programs = $(patsubst %.c,$(B)/%,$(wildcard \
	$(foreach p,$(LAB_PROGRAMS),$(1)/$(p).c)))
LESSON_PROGRAMS := $(foreach l,$(LESSONS),$(call lesson_programs,lessons/$l))
SOLUTION_PROGRAMS := $(foreach l,$(LESSONS),$(call programs_in,solutions/$l))
# The deliberate-error variants: lessons/NN-name/errors/NAME.c.
ERROR_PROGRAMS := $(foreach l,$(LESSONS),$(call programs_in,lessons/$l/errors))
# A client of the lab's own that connects and says nothing: the step
# "connect" of lessons/lessons.json starts it beside the lesson's programs.
SILENT := $(B)/trace/silent

# N=4 or N=04 picks one lesson, by its number: one word of digits that
# is the number of a folder of lessons/.  Anything else (N=99, N=abc, two
# lessons at once: N='01 02') picks none, and need_lesson says why.
quoted = '$(subst ','\'',$(1))'
NOT_DIGITS = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst \
	5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
ifneq ($(strip $(N)),)
ifeq ($(words $(N))$(call NOT_DIGITS,$(strip $(N))),1)
N_NUMBER := $(patsubst 0%,%,$(patsubst 0%,%,$(patsubst 0%,%,$(strip $(N)))))
NN := $(if $(filter 1 2 3 4 5 6 7 8 9,$(N_NUMBER)),0)$(N_NUMBER)
LESSON := $(if $(NN),$(filter $(NN)-%,$(LESSONS)))
endif
endif
comma := ,
ONE_AT_A_TIME = "make $@: N='"$(call quoted,$(N))"' names $(words $(N)) \
	lessons: one lesson at a time$(comma) for example: make $@ \
	N="$(call quoted,$(firstword $(N)))
NOT_A_LESSON = "make $@: "$(call quoted,$(N))" is not a lesson: give the \
	number of one of these$(comma) for example: make $@ N=04"
WHICH_LESSON = $(if $(strip $(N)),$(if $(filter-out 1,$(words $(N))),\
	$(ONE_AT_A_TIME),$(NOT_A_LESSON)),\
	"Say which lesson$(comma) for example: make $@ N=04")
define need_lesson
	@if [ -z "$(LESSON)" ]; then \
	  echo $(WHICH_LESSON); \
	  echo "The lessons: $(LESSONS)"; exit 2; fi
endef
# A hand-out has no solutions/: say so instead of failing obscurely.
define need_solutions
	@if [ ! -d solutions ]; then \
	  echo "This copy of the lab is a hand-out: the solutions are not included,"; \
	  echo "so 'make $@' (which runs them) cannot work here. Check your own code"; \
	  echo "with 'make check' or 'make progress'."; exit 1; fi
endef

TRACE_OBJ := $(B)/trace/trace.o
PYTHON_FILE := $(B)/python
PYTEST_FILE := $(B)/python-pytest
# Python keeps the tools' compiled modules in $(B)/pycache, never beside the
# sources; PYTHONDONTWRITEBYTECODE, which an environment may set to keep
# them out of a source tree, is cleared: with it, every command (and every
# check that make test runs) would compile the tools and pytest again.
PYENV = PYTHONPYCACHEPREFIX=$(abspath $(B))/pycache PYTHONDONTWRITEBYTECODE= \
	LAB_BUILD=$(abspath $(B))
# PYTEST_ARGS reaches pytest: make check N=04 PYTEST_ARGS='-x -k accept'
# (--lf, --sw: pytest's memory of the last run is kept in $(B)).
PYTEST = $(PYENV) "$$(cat $(PYTEST_FILE))" -m pytest -q -rfEs \
	-o cache_dir=$(abspath $(B))/pytest-cache $(PYTEST_ARGS)

CLASSROOM = $(PYENV) "$$(cat $(PYTHON_FILE))" tools/classroom.py
CLASSROOM_CHECKS = $(PYENV) "$$(cat $(PYTEST_FILE))" tools/classroom.py
# Ctrl-C stops make quiz and make watch quietly: the tool says so and exits
# 0 once make has taken the Ctrl-C too, and no shell is left between make
# and the tool (exec) to die of the signal itself, which make would report
# as an error.
CLASSROOM_EXEC = exec env $(CLASSROOM)
HANDOUT ?= $(B)/unix-sockets-lab.tar.gz
AUTOGRADER ?= $(B)/autograder.zip

.PHONY: all help lesson solution check test demo errors timeline pictures strace bench clean
.PHONY: progress hint watch reset quiz grade handout autograder

all: $(LESSON_PROGRAMS) $(SOLUTION_PROGRAMS) $(ERROR_PROGRAMS) $(SILENT)

help:
	@echo "The Unix domain sockets lab"
	@echo ""
	@echo "  make demo              run the whole lifecycle, server and client, with the trace"
	@echo "  make lesson N=04       build and run your code of lesson 04 with its trace"
	@echo "  make check N=04        check your code of lesson 04 (make check: every lesson)"
	@echo "  make check N=04 PYTEST_ARGS='-x -k accept'   options for pytest (--lf: what failed last)"
	@echo "  make solution N=04     build and run the reference solution of lesson 04"
	@echo "  make errors            run every deliberate-error variant: the catalogue of errors"
	@echo "  make errors N=04       the deliberate errors of lesson 04 only"
	@echo "  make errors V=NAME     one deliberate error, with its whole trace (V=bind-twice)"
	@echo "  make timeline N=05     run the solution of lesson 05 and draw its timeline"
	@echo "  make timeline TRACE=F  the timeline of your JSON trace F (SVG=out.svg: a diagram too)"
	@echo "  make timeline V=NAME   the timeline of one deliberate error"
	@echo "  make pictures          redraw the sequence diagrams in pictures/ from fresh runs"
	@echo "  make strace N=05       the solution of lesson 05 under strace, beside the lab's trace"
	@echo "  make strace V=NAME     one deliberate error under strace, beside the lab's trace"
	@echo "  make bench             what the trace costs: 256 MiB through the lesson 06 server"
	@echo "  make progress          where you are in every lesson, and what to do next"
	@echo "  make hint N=04         the next hint for lesson 04 (AGAIN=1 starts over)"
	@echo "  make watch N=04        check lesson 04 again after every change (Ctrl-C stops)"
	@echo "  make reset N=04        put back the starter code of lesson 04 (yours is kept)"
	@echo "  make quiz N=04         the predict-before-you-run questions of lesson 04 (ANSWERS=LETTERS: one per question, no prompts)"
	@echo "  make test              the whole suite: solutions, the lesson ladder, the docs"
	@echo "  make                   build everything into build/"
	@echo "  make clean             remove build/"
	@echo ""
	@echo "For teachers (lessons/TEACHING.md):"
	@echo "  make grade             score every lesson's checks (JSON=FILE also writes JSON)"
	@echo "  make grade SUBMISSION=DIR   score the lessons of a learner's upload in DIR"
	@echo "  make handout           a tarball of the lab without the solutions"
	@echo "  make autograder        the zip to upload to Gradescope (AUTOGRADER=FILE)"
	@echo ""
	@echo "Lessons: $(LESSONS)"
	@echo "Trace: LAB_TRACE=0 turns it off; LAB_TRACE_FILE=FILE also writes JSON lines (trace/TRACE.md)."

$(TRACE_OBJ): trace/trace.c $(TRACE_HEADERS) $(wildcard trace/*.def) $(FLAGS_FILE)
	@command -v $(firstword $(CC)) >/dev/null || { echo "The lab needs a C \
	compiler and $(firstword $(CC)) is not installed. Install one with:"; \
	echo "    sudo apt-get install gcc libc6-dev"; exit 1; }
	@mkdir -p $(@D)
	$(CC) -Itrace $(LAB_CPPFLAGS) $(CPPFLAGS) $(LAB_CFLAGS) $(CFLAGS) -c $< -o $@

# The old program is removed first: code that no longer compiles must not
# be checked with the program built from an earlier version.  The
# compiler's messages are shown, and kept beside the program (NAME.log),
# where make check, make progress and make grade find them.  A source
# that is no regular file (a FIFO, a device) is not given to the compiler,
# which would wait on it; nor one of more than SOURCE_LIMIT bytes
# (tools/classroom.py: a program's output sent into it by mistake), which
# would keep it busy for ever.
SOURCE_LIMIT := 1048576
$(B)/%: %.c $(TRACE_OBJ) $(TRACE_HEADERS) $(FLAGS_FILE)
	@mkdir -p $(@D)
	@rm -f $@ $@.log
	@test -f $< || { echo "$<: not a regular file: nothing to compile" \
	    | tee $@.log >&2; exit 1; }
	@test -z "$$(find $< -size +$(SOURCE_LIMIT)c)" || { echo "$<: \
	$$(wc -c < $<) bytes, more than a lesson source may be \
	($(SOURCE_LIMIT) bytes): nothing to compile" | tee $@.log >&2; exit 1; }
	$(CC) $(LAB_CPPFLAGS) $(CPPFLAGS) $(LAB_CFLAGS) $(CFLAGS) $(LDFLAGS) $< $(TRACE_OBJ) $(LDLIBS) -o $@ 2>$@.log || { cat $@.log >&2; exit 1; }

$(ERROR_PROGRAMS): lessons/variant.h

# The interpreter each kind of command needs, found (and, for root on
# Debian, installed) once by tools/setup and remembered in build/.
# Each make writes a file of its own, renamed into place: two makes (the
# processes of make test) may want the same file at once.
$(PYTHON_FILE):
	@mkdir -p $(@D)
	@tools/setup python > $@.$$$$ && mv $@.$$$$ $@

$(PYTEST_FILE):
	@mkdir -p $(@D)
	@tools/setup pytest > $@.$$$$ && mv $@.$$$$ $@

lesson: $(PYTHON_FILE)
	$(need_lesson)
	@$(MAKE) -s --no-print-directory $(call lesson_programs,lessons/$(LESSON)) $(SILENT)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py run lessons $(LESSON)

solution: $(PYTHON_FILE)
	$(need_solutions)
	$(need_lesson)
	@$(MAKE) -s --no-print-directory $(call programs_in,solutions/$(LESSON)) $(SILENT)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py run solutions $(LESSON)

# The demo runs the lesson lessons/lessons.json names ("demo"): the whole
# lifecycle of a stream server and its clients.
DEMO := $(shell sed -n 's/^ *"demo": *"\([^"]*\)".*/\1/p' lessons/lessons.json)
demo: $(PYTHON_FILE) $(call programs_in,solutions/$(DEMO))
	$(need_solutions)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py demo

# TRACE=FILE draws a trace you made; N=05 runs that lesson's solution first;
# V=NAME runs one deliberate error.
SVG_ARG = $(if $(SVG),--svg=$(call quoted,$(SVG)))
timeline: $(PYTHON_FILE)
ifneq ($(strip $(TRACE)),)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py timeline $(SVG_ARG) -- $(call quoted,$(TRACE))
else ifneq ($(strip $(V)),)
	@$(MAKE) -s --no-print-directory $(ERROR_PROGRAMS)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py timeline $(SVG_ARG) --variant=$(call quoted,$(V))
else
	$(need_solutions)
	$(need_lesson)
	@$(MAKE) --no-print-directory $(call programs_in,solutions/$(LESSON)) $(SILENT)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py timeline $(SVG_ARG) --run solutions $(LESSON)
endif

pictures: all $(PYTHON_FILE)
	$(need_solutions)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py pictures

# strace is optional: the tool says how to install it, or why it cannot run.
# V=NAME compares one deliberate error instead of a lesson.
strace: $(PYTHON_FILE)
ifneq ($(strip $(V)),)
	@$(MAKE) -s --no-print-directory $(ERROR_PROGRAMS)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py strace --variant $(call quoted,$(V))
else
	$(need_solutions)
	$(need_lesson)
	@$(MAKE) -s --no-print-directory $(call programs_in,solutions/$(LESSON)) $(SILENT)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py strace solutions $(LESSON)
endif

# make bench: the lesson 06 server built without the trace beside the lab's
# build, trace off, JSON only and human (tools/bench.py, trace/TRACE.md).
BENCH_SERVER := solutions/06-close/server
$(B)/bench/server: $(BENCH_SERVER).c
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS)

$(B)/bench/client: trace/bench_client.c
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS)

bench: $(PYTHON_FILE) $(B)/bench/server $(B)/bench/client
	$(need_solutions)
	@$(MAKE) -s --no-print-directory $(B)/$(BENCH_SERVER)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/bench.py $(ARGS)

# make errors [N=04]: the catalogue table; make errors V=bind-twice: one
# variant, with its whole trace.
errors: $(PYTHON_FILE) $(ERROR_PROGRAMS)
ifneq ($(strip $(V)),)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py errors --show $(call quoted,$(V))
else
ifneq ($(strip $(N)),)
	$(need_lesson)
endif
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/lab.py errors $(LESSON)
endif

# A lesson that does not compile is reported by its check, with the
# compiler's first messages, so the others are still built and checked (-k),
# JOBS at a time (-j), as make test builds.
# The checks of a learner run in one process: pytest-xdist, installed for
# make test, is not even loaded (it would cost a fifth of a second).
ONE_PROCESS := -p no:xdist -p no:xdist.looponfail
check: $(PYTEST_FILE)
ifneq ($(strip $(N)),)
	$(need_lesson)
	@$(MAKE) -s --no-print-directory -k -j$(JOBS) $(call lesson_programs,lessons/$(LESSON)) 2>/dev/null || true
	@LAB_CODE=lessons $(PYTEST) $(ONE_PROCESS) tests/test_$(NN)_*.py
else
	@$(MAKE) -s --no-print-directory -k -j$(JOBS) $(LESSON_PROGRAMS) 2>/dev/null || true
	@LAB_CODE=lessons $(PYTEST) $(ONE_PROCESS) $(foreach l,$(LESSONS),tests/test_$(firstword $(subst -, ,$l))_*.py)
endif

# In a hand-out (no solutions/) make test says so and exits with status 1:
# nothing was tested, and a script must not take that for a success.
# Every time, tools/setup sees that every tool the suite uses is there
# (root installs what is missing); a test that fails or must skip is listed with why (-rfEs).
# The build and the suite use JOBS cores, the suite in one process more
# than JOBS, since its checks spend part of their time waiting for the
# programs they run (pytest-xdist 2.5 or later, where
# it is installed: tests/conftest.py says how the tests are shared out; an
# older one, as Debian 11 has, leaves the suite on one core); at the
# end, make test says how long each took, and the ratio of the two.
# pytest's own temporary directories go in $(B), not in /tmp, where it
# would keep the last three runs' (it empties its basetemp at each run).
JOBS ?= 2
test:
	$(need_solutions)
	@mkdir -p $(B)
	@tools/setup suite > $(PYTEST_FILE).$$$$ && mv $(PYTEST_FILE).$$$$ $(PYTEST_FILE)
	@start=$$(date +%s.%N); \
	$(MAKE) --no-print-directory -j$(JOBS) all || exit $$?; \
	built=$$(date +%s.%N); \
	workers=$$("$$(cat $(PYTEST_FILE))" -c 'import sys, xdist; sys.exit( \
	  tuple(map(int, xdist.__version__.split(".")[:2])) < (2, 5))' \
	  2>/dev/null && \
	  [ $(JOBS) -gt 1 ] && echo "-n $$(($(JOBS) + 1)) --dist loadgroup"); \
	LAB_CODE=solutions $(PYTEST) $$workers \
	  --basetemp=$(abspath $(B))/pytest-tmp tests; status=$$?; \
	awk -v a=$$start -v b=$$built -v c=$$(date +%s.%N) 'BEGIN { \
	  if (b - a < 0.5) \
	    printf "make test: tests %.1f s (the programs were built already: " \
	      "after make clean, it compares the two)\n", c - b; \
	  else \
	    printf "make test: build %.1f s, tests %.1f s: %.1f times the build\n", \
	      b - a, c - b, (c - b) / (b - a) }'; \
	exit $$status

# The classroom commands (tools/classroom.py).  progress and grade build
# every lesson quietly: a lesson that does not compile is reported as such.
progress: $(PYTEST_FILE)
	@$(MAKE) --no-print-directory -s -k -j$(JOBS) $(LESSON_PROGRAMS) >/dev/null 2>&1 || true
	@$(CLASSROOM_CHECKS) progress

# SUBMISSION=DIR grades the lessons of a learner's upload (DIR, DIR/lessons,
# or the one folder in DIR) with this lab's checks, in a fresh temporary
# copy (tools/grade).  The grading tool exits 0 (complete), 1 (incomplete),
# 3 (nothing to grade) or 4 (the grader failed): an incomplete grade is a
# grade, which make ends in the tool's own words, with make's status 0;
# the other two are make's failures (status 2).  lessons/TEACHING.md says
# how a script gets the four.
JSON_ARG = $(if $(JSON),$(call quoted,$(JSON)))
GRADED = || { status=$$?; [ $$status -eq 1 ] || exit $$status; }
grade: $(PYTEST_FILE)
ifneq ($(strip $(SUBMISSION)),)
	@tools/grade $(call quoted,$(SUBMISSION)) $(JSON_ARG) $(GRADED)
else
	@$(MAKE) --no-print-directory -s -k -j$(JOBS) $(LESSON_PROGRAMS) >/dev/null 2>&1 || true
	@$(CLASSROOM_CHECKS) grade $(JSON_ARG) $(GRADED)
endif

# AGAIN=1 starts the hints over; AGAIN=0 (or none) does not; any other
# AGAIN (AGAIN=no, AGAIN=yes) is refused rather than guessed.
hint: $(PYTHON_FILE)
	$(need_lesson)
	@if [ -n $(call quoted,$(filter-out 0 1,$(strip $(AGAIN)))) ]; then \
	  echo "make hint: AGAIN="$(call quoted,$(AGAIN))" is neither 1 nor \
	0: AGAIN=1 starts the hints of lesson $(LESSON) over (make hint \
	N=$(NN) AGAIN=1); without it, the next hint comes."; exit 2; fi
	@$(CLASSROOM) hint $(LESSON) $(if $(filter 1,$(strip $(AGAIN))),again)

watch: $(PYTHON_FILE)
	$(need_lesson)
	@$(CLASSROOM_EXEC) watch $(LESSON) $(MAKE) B=$(B)

reset: $(PYTHON_FILE)
	$(need_lesson)
	@$(CLASSROOM) reset $(LESSON)

quiz: $(PYTHON_FILE)
	$(need_lesson)
	@$(CLASSROOM_EXEC) quiz $(LESSON) $(call quoted,$(ANSWERS))

handout: $(PYTHON_FILE)
	@$(CLASSROOM) handout $(call quoted,$(HANDOUT))

# Gradescope: setup.sh, run_autograder and the hand-out in one zip
# (tools/autograder.py; lessons/TEACHING.md).
autograder: $(PYTHON_FILE)
	@$(PYENV) "$$(cat $(PYTHON_FILE))" tools/autograder.py zip $(call quoted,$(AUTOGRADER))

clean:
	rm -rf $(B)
