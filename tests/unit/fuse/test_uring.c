/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/fuse/test_uring.c - unit tests for fuse/uring.c's pure
 * helpers: CPU lists, the payload size the kernel demands, placing a ring
 * request in the classic /dev/fuse layout and gathering a reply into a ring
 * entry. No kernel, no ring. Single-threaded.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuse_int.h"

#define HEAD 4096
#define CAP (64 * 1024)

struct entry {
	struct strata_uring_req_header hdr;
	char *mem; /* HEAD bytes in front of the payload, then CAP */
	char *payload;
};

static int setup(void **state)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->mem = calloc(1, HEAD + CAP);
	if (!e->mem) {
		free(e);
		return -1;
	}
	e->payload = e->mem + HEAD;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct entry *e = *state;

	free(e->mem);
	free(e);
	return 0;
}

static void cpu_lists_are_counted(void **state)
{
	(void)state;
	assert_int_equal(strata__fuse_uring_ncpus("0\n"), 1);
	assert_int_equal(strata__fuse_uring_ncpus("0-1\n"), 2);
	assert_int_equal(strata__fuse_uring_ncpus("0-3,8-9,12"), 7);
	assert_int_equal(strata__fuse_uring_ncpus(""), -EINVAL);
	assert_int_equal(strata__fuse_uring_ncpus("3-1"), -EINVAL);
	assert_int_equal(strata__fuse_uring_ncpus("0-x"), -EINVAL);
	assert_int_equal(strata__fuse_uring_ncpus("0;1"), -EINVAL);
}

static void payload_covers_what_the_kernel_demands(void **state)
{
	(void)state;
	/* 1 MiB writes, 256 pages: the mount's defaults. */
	assert_int_equal(strata__fuse_uring_payload_size(FUSE_MAX_PAGES,
							 1u << 20, 256, 4096),
			 1u << 20);
	/* Without FUSE_MAX_PAGES the kernel keeps 32 pages. */
	assert_int_equal(strata__fuse_uring_payload_size(0, 4096, 256, 4096),
			 32 * 4096);
	/* Never below FUSE_MIN_READ_BUFFER, always whole pages. */
	assert_int_equal(strata__fuse_uring_payload_size(FUSE_MAX_PAGES, 4096,
							 1, 4096),
			 8192);
	assert_int_equal(strata__fuse_uring_payload_size(FUSE_MAX_PAGES, 100000,
							 1, 4096),
			 102400);
}

/* A WRITE as the kernel lays it out in a ring entry. */
static void fill_write(struct entry *e, uint32_t size)
{
	struct fuse_in_header in = {
		.len = (uint32_t)(sizeof(in) + sizeof(struct fuse_write_in) +
				  size),
		.opcode = FUSE_WRITE,
		.unique = 42,
		.nodeid = 7,
	};
	struct fuse_write_in wi = { .fh = 3, .offset = 4096, .size = size };

	memcpy(e->hdr.in_out, &in, sizeof(in));
	memcpy(e->hdr.op_in, &wi, sizeof(wi));
	memset(e->payload, 'd', size);
	e->hdr.ring_ent_in_out.commit_id = 42;
	e->hdr.ring_ent_in_out.payload_sz = size;
}

static void a_request_is_placed_before_its_payload(void **state)
{
	struct entry *e = *state;
	const struct fuse_in_header *in;
	const struct fuse_write_in *wi;
	void *req = NULL;
	size_t len = 0;

	fill_write(e, 16384);
	assert_int_equal(strata__fuse_uring_place(&e->hdr, e->payload, CAP,
						  &req, &len),
			 0);
	in = req;
	wi = (const void *)(in + 1);
	assert_ptr_equal((char *)(wi + 1), e->payload);
	assert_int_equal(len, sizeof(*in) + sizeof(*wi) + 16384);
	assert_int_equal(in->len, len);
	assert_int_equal(in->opcode, FUSE_WRITE);
	assert_int_equal(in->unique, 42);
	assert_int_equal(wi->fh, 3);
	assert_int_equal(wi->offset, 4096);
	assert_int_equal(((char *)(wi + 1))[16383], 'd');
}

static void a_request_without_op_header_is_placed(void **state)
{
	struct entry *e = *state;
	struct fuse_in_header in = {
		.len = sizeof(in) + 6,
		.opcode = FUSE_LOOKUP,
		.unique = 9,
	};
	void *req = NULL;
	size_t len = 0;

	/* LOOKUP: an empty first argument, the name in the payload. */
	memcpy(e->hdr.in_out, &in, sizeof(in));
	memcpy(e->payload, "hello", 6);
	e->hdr.ring_ent_in_out.payload_sz = 6;
	assert_int_equal(strata__fuse_uring_place(&e->hdr, e->payload, CAP,
						  &req, &len),
			 0);
	assert_ptr_equal((char *)req + sizeof(in), e->payload);
	assert_int_equal(len, sizeof(in) + 6);
	assert_string_equal((char *)req + sizeof(in), "hello");
}

static void bad_lengths_are_refused(void **state)
{
	struct entry *e = *state;
	struct fuse_in_header in;
	void *req = NULL;
	size_t len = 0;

	fill_write(e, 100);
	memcpy(&in, e->hdr.in_out, sizeof(in));
	/* Shorter than header and payload. */
	in.len = sizeof(in) + 50;
	memcpy(e->hdr.in_out, &in, sizeof(in));
	assert_int_equal(strata__fuse_uring_place(&e->hdr, e->payload, CAP,
						  &req, &len),
			 -EPROTO);
	/* An op header bigger than op_in. */
	in.len = sizeof(in) + STRATA_URING_OP_SZ + 1 + 100;
	memcpy(e->hdr.in_out, &in, sizeof(in));
	assert_int_equal(strata__fuse_uring_place(&e->hdr, e->payload, CAP,
						  &req, &len),
			 -EPROTO);
	/* A payload bigger than the buffer. */
	e->hdr.ring_ent_in_out.payload_sz = CAP + 1;
	in.len = (uint32_t)(sizeof(in) + CAP + 1);
	memcpy(e->hdr.in_out, &in, sizeof(in));
	assert_int_equal(strata__fuse_uring_place(&e->hdr, e->payload, CAP,
						  &req, &len),
			 -EPROTO);
}

static void a_reply_is_gathered_into_the_entry(void **state)
{
	struct entry *e = *state;
	struct fuse_out_header out = { .unique = 42 };
	struct fuse_entry_out eo = { .nodeid = 11, .generation = 1 };
	struct fuse_open_out oo = { .fh = 5 };
	struct iovec iov[3] = {
		{ &out, sizeof(out) },
		{ &eo, sizeof(eo) },
		{ &oo, sizeof(oo) },
	};
	const struct fuse_out_header *ho = (const void *)e->hdr.in_out;

	out.len = sizeof(out) + sizeof(eo) + sizeof(oo);
	assert_int_equal(strata__fuse_uring_gather(&e->hdr, e->payload, CAP,
						   iov, 3),
			 out.len);
	assert_int_equal(ho->unique, 42);
	assert_int_equal(ho->error, 0);
	assert_int_equal(e->hdr.ring_ent_in_out.payload_sz,
			 sizeof(eo) + sizeof(oo));
	assert_memory_equal(e->payload, &eo, sizeof(eo));
	assert_memory_equal(e->payload + sizeof(eo), &oo, sizeof(oo));
}

static void an_error_reply_has_no_payload(void **state)
{
	struct entry *e = *state;
	struct fuse_out_header out = {
		.len = sizeof(out),
		.error = -ENOENT,
		.unique = 8,
	};
	struct iovec iov[1] = { { &out, sizeof(out) } };
	const struct fuse_out_header *ho = (const void *)e->hdr.in_out;

	e->hdr.ring_ent_in_out.payload_sz = 999;
	assert_int_equal(strata__fuse_uring_gather(&e->hdr, e->payload, CAP,
						   iov, 1),
			 sizeof(out));
	assert_int_equal(ho->error, -ENOENT);
	assert_int_equal(e->hdr.ring_ent_in_out.payload_sz, 0);
}

static void a_reply_too_big_is_refused(void **state)
{
	struct entry *e = *state;
	struct fuse_out_header out = { .unique = 1 };
	static char big[CAP + 1];
	struct iovec iov[2] = { { &out, sizeof(out) }, { big, sizeof(big) } };

	assert_int_equal(strata__fuse_uring_gather(&e->hdr, e->payload, CAP,
						   iov, 2),
			 -EMSGSIZE);
	iov[0].iov_len = 8;
	assert_int_equal(strata__fuse_uring_gather(&e->hdr, e->payload, CAP,
						   iov, 1),
			 -EPROTO);
}

static void no_ring_request_no_take(void **state)
{
	struct fuse_out_header out = { .len = sizeof(out), .unique = 1 };
	struct iovec iov[1] = { { &out, sizeof(out) } };
	ssize_t n = 0;

	(void)state;
	/* Off a ring thread every reply goes to /dev/fuse. */
	assert_false(strata__fuse_uring_serving());
	assert_false(strata__fuse_uring_take(iov, 1, &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpu_lists_are_counted),
		cmocka_unit_test(payload_covers_what_the_kernel_demands),
		cmocka_unit_test_setup_teardown(
			a_request_is_placed_before_its_payload, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_request_without_op_header_is_placed, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_lengths_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_reply_is_gathered_into_the_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(an_error_reply_has_no_payload,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_reply_too_big_is_refused,
						setup, teardown),
		cmocka_unit_test(no_ring_request_no_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
