/*
 * Dirty-page tracking (core/dirty.h) installs a SIGSEGV handler for the
 * write faults of tracked memory.  A fault outside tracked memory must
 * still reach the handler that was there before: the default one kills,
 * under ASan ASan's report, and a program's own handler is called.
 *
 * The cases run this binary again as a child (--segv-child) outside
 * cmocka, which installs its own SIGSEGV handler around every test.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "core/dirty.h"

#define PAGE DIRTY_PAGE

/* n pages of fresh memory, or NULL (the child reports it by its status) */
static uint8_t *map_pages(uint64_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Child (no cmocka): a tracked write is handled, then a write to
 * read-only memory that nobody tracks goes to the previous handler.  With
 * argv "custom" that is a handler of ours that exits 42. */
static void custom_segv(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "custom handler\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(si->si_addr ? 42 : 43);
}

static int segv_child(const char *how)
{
	uint8_t *t = map_pages(2), *u = map_pages(1);
	struct dirty_range *r;
	uint64_t bits[1], dirty;
	unsigned n = 1;

	if (!t || !u)
		return 2;
	if (!strcmp(how, "custom")) {
		struct sigaction sa = {.sa_sigaction = custom_segv,
				       .sa_flags = SA_SIGINFO};
		sigaction(SIGSEGV, &sa, NULL);
	}
	if (dirty_start(t, 2, t, &r))
		return 3;
	t[PAGE] = 1;
	if (dirty_fetch(r, 0, &n, bits, &dirty) || bits[0] != 2)
		return 4;
	fprintf(stderr, "tracked write handled\n");
	mprotect(u, PAGE, PROT_READ);
	*(volatile uint8_t *)(u + 8) = 1;
	return 5; /* not reached */
}

/* Run this binary as a segv child; its exit status and stderr. */
static int run_child(const char *how, char *err, size_t len)
{
	int pipefd[2], status;
	ssize_t got, total = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execl("/proc/self/exe", "test_dirty_segv", "--segv-child", how,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((got = read(pipefd[0], err + total, len - 1 - (size_t)total)) > 0)
		total += got;
	err[total] = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void untracked_crashes(void **state)
{
	char err[8192];
	int status = run_child("default", err, sizeof(err));

	assert_non_null(strstr(err, "tracked write handled"));
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's handler was the previous one: it reports and exits */
	assert_non_null(strstr(err, "AddressSanitizer: SEGV"));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
#else
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
#endif
	status = run_child("custom", err, sizeof(err));
	assert_non_null(strstr(err, "tracked write handled"));
	assert_non_null(strstr(err, "custom handler"));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(untracked_crashes),
	};

	if (argc == 3 && !strcmp(argv[1], "--segv-child"))
		return segv_child(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
