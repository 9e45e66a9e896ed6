/*
 * The child loader in a node: a guest binary from a ROM lands in a PD
 * session region by region (contents, bss zeroed, addresses and
 * permissions as the ELF says), each placement is reported to the hook,
 * the stack carries the startup info where sp points, and a broken
 * binary, a thread number without a stack slot or a refusing hook fail
 * the load with their own message.
 */
#include <elf.h>
#include <string.h>
#include <sys/stat.h>
#include <base/env.h>

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
	cap_t own_pd;
	int nplaced, refuse;
	struct {
		cap_t ds;
		uint64_t at, size;
		unsigned perm;
	} placed[4];
};

#define NODE_ALARM_S 60
#include "fixture_node.h"
#include "loader/loader.h"

#define IMG_SIZE 0x3000

static uint8_t img[IMG_SIZE];

/* The image of test_loader_elf: text RX at 0x400000 ("TEXT" at 0), data
 * RW at 0x401010 ("DATA", then bss up to 0x404010). */
static void build(void)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof *eh);

	memset(img, 0, sizeof img);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x400100;
	eh->e_phoff = sizeof *eh;
	eh->e_ehsize = sizeof *eh;
	eh->e_phentsize = sizeof *ph;
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_flags = PF_R | PF_X,
			     .p_offset = 0x1000,
			     .p_vaddr = 0x400000,
			     .p_filesz = 0x200,
			     .p_memsz = 0x200};
	ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_flags = PF_R | PF_W,
			     .p_offset = 0x2010,
			     .p_vaddr = 0x401010,
			     .p_filesz = 0x10,
			     .p_memsz = 0x3000};
	memcpy(img + 0x1000, "TEXT", 4);
	memcpy(img + 0x2010, "DATA", 4);
	memset(img + 0x2020, 0xee, 0x10); /* file bytes beyond filesz: not loaded */
}

/* The hook: keep a reference to each placed dataspace and where it went. */
static int placed(void *ctx, cap_t ds, uint64_t at, uint64_t size, unsigned perm)
{
	struct tcase *t = ctx;

	if (t->refuse)
		return -EPERM;
	if (t->nplaced >= 4)
		return -ENOSPC;
	t->placed[t->nplaced].ds = cap_ref(ds);
	t->placed[t->nplaced].at = at;
	t->placed[t->nplaced].size = size;
	t->placed[t->nplaced].perm = perm;
	t->nplaced++;
	return 0;
}

/* Placement i is a dataspace of size bytes at at with perm, readable in
 * the loading component: *host is its copy there. */
static int check_placed(struct tcase *t, int i, uint64_t at, uint64_t size, unsigned perm,
			const uint8_t **host)
{
	uint64_t h;

	CHECK(t, i < t->nplaced);
	CHECK(t, t->placed[i].at == at);
	CHECK(t, t->placed[i].size == size);
	CHECK(t, t->placed[i].perm == perm);
	CHECK(t, !pd_attach(t->own_pd, t->placed[i].ds, 0, 0, 0, MEM_R, &h));
	*host = (const uint8_t *)(uintptr_t)h;
	return 0;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int open_child(struct env *env, struct tcase *t, const char *binary, cap_t *pd,
		      cap_t *rom)
{
	char args[64];

	snprintf(args, sizeof args, "label=\"%s\"", binary);
	CHECK(t,
	      !parent_session(env->parent, "PD", "ram_quota=1048576, cap_quota=16", pd));
	CHECK(t, !parent_session(env->parent, "ROM", args, rom));
	return 0;
}

static int case_loads(struct env *env, struct tcase *t)
{
	struct loader l = {.own_pd = env->pd, .placed = placed, .ctx = t};
	struct startup_info si = {STARTUP_MAGIC, 0x1234, 3, 0x5678, 0x9abc000};
	uint64_t entry = 0, sp = 0, base;
	const uint8_t *text, *data, *stack;
	const char *what = NULL;
	cap_t rom;

	t->own_pd = env->pd;
	if (open_child(env, t, "t.elf", &l.child_pd, &rom))
		return 1;
	CHECK(t, !loader_load_binary(&l, rom, &entry, &what));
	CHECK(t, entry == 0x400100);
	CHECK(t, t->nplaced == 2);
	if (check_placed(t, 0, 0x400000, 0x1000, MEM_R | MEM_X, &text) ||
	    check_placed(t, 1, 0x401000, 0x4000, MEM_R | MEM_W, &data))
		return 1;
	CHECK(t, !memcmp(text, "TEXT", 4) && all_zero(text + 0x200, 0x1000 - 0x200));
	CHECK(t, all_zero(data, 0x10) && !memcmp(data + 0x10, "DATA", 4));
	CHECK(t, all_zero(data + 0x20, 0x4000 - 0x20)); /* bss, not the 0xee bytes */
	/* the child's address space has them where the hook was told */
	CHECK(t, pd_attach(l.child_pd, t->placed[0].ds, 0x400000, 0, 0x1000, MEM_R,
			   &base) == -EEXIST);

	CHECK(t, !loader_make_stack(&l, &si, &sp, &what));
	base = GUEST_STACK_AREA + 4 * GUEST_STACK_SLOT - LOADER_STACK_SIZE;
	if (check_placed(t, 2, base, LOADER_STACK_SIZE, MEM_R | MEM_W, &stack))
		return 1;
	CHECK(t, sp > base && sp + sizeof si <= base + LOADER_STACK_SIZE && !(sp & 63));
	CHECK(t, !memcmp(stack + (sp - base), &si, sizeof si));
	CHECK(t, all_zero(stack, sp - base));

	si.thread_nr = THREAD_AREA_THREADS;
	CHECK(t, loader_make_stack(&l, &si, &sp, &what) == -ERANGE);
	CHECK(t, !strcmp(what, "no stack slot for its thread"));
	CHECK(t, t->nplaced == 3);
	return 0;
}

static int case_refused(struct env *env, struct tcase *t)
{
	struct loader l = {.own_pd = env->pd, .placed = placed, .ctx = t};
	struct startup_info si = {STARTUP_MAGIC, 1, 0, 2, 0x9abc000};
	uint64_t entry = 0, sp;
	const char *what = NULL;
	cap_t rom, bad_rom;

	t->own_pd = env->pd;
	if (open_child(env, t, "bad.elf", &l.child_pd, &bad_rom) ||
	    open_child(env, t, "t.elf", &l.child_pd, &rom))
		return 1;
	CHECK(t, loader_load_binary(&l, bad_rom, &entry, &what) == -ENOEXEC);
	CHECK(t, !strcmp(what, "not an ELF file"));
	CHECK(t, t->nplaced == 0 && entry == 0);
	t->refuse = 1;
	CHECK(t, loader_load_binary(&l, rom, &entry, &what) == -EPERM);
	CHECK(t, !strcmp(what, "cannot record a segment"));
	CHECK(t, loader_make_stack(&l, &si, &sp, &what) == -EPERM);
	CHECK(t, !strcmp(what, "cannot record its stack"));
	return 0;
}

static int write_file(const char *dir, const char *name, const void *data, size_t size)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		return -1;
	return 0;
}

/* Boot with a ROM directory holding t.elf and bad.elf. */
static void boot(struct tcase *t)
{
	char dir[64], path[128];
	const char *dirs[1] = {dir};
	struct core_config cfg = {
	    .rom_dirs = dirs, .nrom = 1, .init_construct = node_run_case, .init_arg = t};
	int code;

	snprintf(dir, sizeof dir, "/tmp/capsule_test_loader.%d", (int)getpid());
	mkdir(dir, 0700);
	build();
	assert_int_equal(write_file(dir, "t.elf", img, sizeof img), 0);
	assert_int_equal(write_file(dir, "bad.elf", "#!/bin/sh\n", 10), 0);
	alarm(NODE_ALARM_S);
	code = kernel_boot(core_main, &cfg);
	alarm(0);
	snprintf(path, sizeof path, "%s/t.elf", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/bad.elf", dir);
	unlink(path);
	rmdir(dir);
	node_report(t, cfg.status, code);
}

static void loads(void **state)
{
	struct tcase t = {.run = case_loads};

	boot(&t);
}

static void refused(void **state)
{
	struct tcase t = {.run = case_refused};

	boot(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loads),
	    cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
