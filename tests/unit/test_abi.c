/* The system-call ABI's encodings: tags, kcaps, layout sizes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <capsule/abi.h>

static void tag_fields_round_trip(void **state)
{
	uint64_t t = TAG(SYS_OP_CALL, PROTO_THREAD, 53, 3);
	assert_int_equal(TAG_WORDS(t), 53);
	assert_int_equal(TAG_ITEMS(t), 3);
	assert_int_equal(TAG_OP(t), SYS_OP_CALL);
	assert_int_equal(TAG_PROTO(t), PROTO_THREAD);
	assert_int_equal(TAG_ERROR(t), 0);
	t = TAG_WITH_ERROR(t, KERR_TIMEOUT);
	assert_int_equal(TAG_ERROR(t), KERR_TIMEOUT);
	assert_int_equal(TAG_WORDS(t), 53);
}

static void kcap_index_and_thread_area(void **state)
{
	assert_int_equal(KCAP(FIXED_PARENT), 0xb000);
	assert_int_equal(KCAP_INDEX(0x300000), 0x300);
	assert_int_equal(KCAP_THREAD(0, THREAD_SLOT_GATE), KCAP(0xc));
	assert_int_equal(KCAP_THREAD(1, THREAD_SLOT_IRQ), KCAP(0xc + 5 + 2));
	assert_true(KCAP_INDEX(KCAP_THREAD(THREAD_AREA_THREADS - 1, 4)) <
		    FIXED_USER_BASE);
}

static void register_state_fits_in_message(void **state)
{
	assert_true(CPU_REGS_WORDS + 1 <= UTCB_MRS);
	assert_true(sizeof(struct utcb) <= GUEST_UTCB_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tag_fields_round_trip),
	    cmocka_unit_test(kcap_index_and_thread_area),
	    cmocka_unit_test(register_state_fits_in_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
