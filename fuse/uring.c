/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/uring.c - FUSE over io_uring (Linux 6.14+): requests come and go
 * through io_uring commands on per-CPU queues instead of read(2) and
 * writev(2) on /dev/fuse.
 *
 * The kernel puts each request on the queue of the CPU its caller runs on;
 * a few threads here, pinned to that CPU, each own a small io_uring and one
 * ring entry (a header and a payload buffer registered with the kernel).
 * A thread gets a request as the completion of its command, hands it to
 * libfuse (fuse_session_process_buf) as if it came from /dev/fuse, and
 * sends the reply and fetches the next request with one io_uring_enter
 * (COMMIT_AND_FETCH): no cross-CPU wake-up per request. ops.c replies
 * synchronously on the thread that handles the request, so the reply
 * reaches passthrough.c's writev hook on this thread, which gives it to
 * strata__fuse_uring_take() (a thread-local marks the ring request being
 * served); every other message still goes to /dev/fuse. The classic loop
 * keeps running beside the rings: FORGET and INTERRUPT always come that
 * way, and everything does when the ring is refused.
 *
 * libfuse 3.14 knows nothing of this: the INIT reply is edited on its way
 * out (passthrough.c) to ask for FUSE_OVER_IO_URING, and only when the
 * rings and buffers already exist (_prepare), because once the kernel has
 * accepted the INIT reply it holds every new request until each queue has
 * an entry or a registration failed; the threads start (_start) right after
 * that reply was written, which the kernel processes inside the write.
 *
 * Threads: _prepare, _start and _stop run once per mount (the first two on
 * the libfuse worker that writes the INIT reply, _stop on the main thread
 * after the loop ended); a ring thread touches only its own entry and ring.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"

/*
 * Threads per queue, each with one entry. Two, not one: a request that
 * blocks for long (fsync, a far tier) would otherwise stall every caller
 * on that CPU; more than two costs a payload buffer each and wakes no
 * faster, since the kernel hands a queue's requests out one at a time.
 */
#define URING_PER_QUEUE 2
/* The page in front of each payload: the kernel's header struct at its
 * start, the request's in header and op_in copied to its end. */
#define URING_HEAD 4096
#define URING_MIN_PAYLOAD 8192 /* FUSE_MIN_READ_BUFFER */
#define URING_DEFAULT_MAX_PAGES 32
#define URING_CMD 1
#define URING_STOP 2
/* How long _start waits for the threads to say how registration went. */
#define URING_START_WAIT_S 5
/*
 * While the rings serve, /dev/fuse brings little but FORGETs, one per
 * evicted inode: an unlink loop sent one per file, each waking a worker
 * on the other CPU and racing the ring threads for the catalog. Readers
 * of /dev/fuse then take turns, and the next read waits until this long
 * after a read that brought forgets, so that they pile up and come as one
 * BATCH_FORGET. INTERRUPTs (which Strata ignores) wait as long at most.
 */
#define URING_FORGET_PACE_NS 2000000

struct uring_thread {
	struct strata_uring *ur;
	struct io_uring ring;
	bool ring_ok;
	bool disabled; /* created with IORING_SETUP_R_DISABLED */
	bool started;
	bool registered; /* the kernel has the entry */
	bool refused;	 /* the kernel refused it (and so the ring) */
	pthread_t tid;
	unsigned int qid;
	char *mem; /* mmap: URING_HEAD, then the payload */
	struct strata_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2]; /* registered: header, payload */
	uint64_t unique;     /* the request being served */
	bool replied;
};

struct strata_uring {
	struct strata_fuse *pf;
	size_t payload_len;
	unsigned int nqueues;
	unsigned int nthreads;
	int stop_fd; /* eventfd, readable once the threads must leave */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int reported; /* guarded by lock, like the two below */
	unsigned int registered;
	int first_err;
	bool serving; /* atomic: every queue has an entry */
	sem_t gate;   /* one reader of /dev/fuse at a time, once serving */
	struct timespec forgot; /* guarded by gate: the last forget read */
	struct uring_thread th[];
};

/* The ring entry whose request this thread serves now. */
static __thread struct uring_thread *uring_cur;

int strata__fuse_uring_ncpus(const char *list)
{
	int n = 0;

	while (*list && *list != '\n') {
		char *end;
		long a = strtol(list, &end, 10);
		long b = a;

		if (end == list || a < 0)
			return -EINVAL;
		if (*end == '-') {
			list = end + 1;
			b = strtol(list, &end, 10);
			if (end == list || b < a)
				return -EINVAL;
		}
		n += (int)(b - a + 1);
		if (*end == ',')
			end++;
		else if (*end && *end != '\n')
			return -EINVAL;
		list = end;
	}
	return n > 0 ? n : -EINVAL;
}

size_t strata__fuse_uring_payload_size(uint32_t flags, uint32_t max_write,
				       uint16_t max_pages, size_t page)
{
	size_t pages = URING_DEFAULT_MAX_PAGES;
	size_t len = URING_MIN_PAYLOAD;

	/* fs/fuse: max(FUSE_MIN_READ_BUFFER, max_write, max_pages pages).
	 * The kernel may cap max_pages lower (max_pages_limit): more room
	 * than it asks for is fine. */
	if (flags & FUSE_MAX_PAGES)
		pages = max_pages ? max_pages : 1;
	if (max_write > len)
		len = max_write;
	if (pages * page > len)
		len = pages * page;
	return (len + page - 1) / page * page;
}

int strata__fuse_uring_place(const struct strata_uring_req_header *h,
			     char *payload, size_t cap, void **req, size_t *len)
{
	const struct fuse_in_header *in = (const void *)h->in_out;
	size_t psz = h->ring_ent_in_out.payload_sz;
	size_t op;
	char *start;

	if (psz > cap || in->len < sizeof(*in) + psz)
		return -EPROTO;
	op = in->len - sizeof(*in) - psz;
	if (op > STRATA_URING_OP_SZ)
		return -EPROTO;
	start = payload - op - sizeof(*in);
	memcpy(start, in, sizeof(*in));
	memcpy(start + sizeof(*in), h->op_in, op);
	*req = start;
	*len = in->len;
	return 0;
}

ssize_t strata__fuse_uring_gather(struct strata_uring_req_header *h,
				  char *payload, size_t cap,
				  const struct iovec *iov, int count)
{
	size_t used = 0;

	if (count < 1 || iov[0].iov_len != sizeof(struct fuse_out_header))
		return -EPROTO;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > cap - used)
			return -EMSGSIZE;
		/* A reply may quote the request, which lies in payload. */
		memmove(payload + used, iov[i].iov_base, iov[i].iov_len);
		used += iov[i].iov_len;
	}
	memcpy(h->in_out, iov[0].iov_base, iov[0].iov_len);
	h->ring_ent_in_out.payload_sz = (uint32_t)used;
	return (ssize_t)(iov[0].iov_len + used);
}

bool strata__fuse_uring_serving(void)
{
	return uring_cur != NULL;
}

bool strata__fuse_uring_take(const struct iovec *iov, int count, ssize_t *res)
{
	struct uring_thread *t = uring_cur;
	const struct fuse_out_header *out;
	ssize_t n;

	if (!t || t->replied || count < 1 || iov[0].iov_len != sizeof(*out))
		return false;
	out = iov[0].iov_base;
	if (out->unique != t->unique)
		return false;
	n = strata__fuse_uring_gather(t->hdr, t->payload, t->ur->payload_len,
				      iov, count);
	if (n < 0) {
		errno = (int)-n;
		*res = -1;
		return true;
	}
	t->replied = true;
	*res = n;
	return true;
}

bool strata__fuse_uring_take_pipe(int fd, size_t len, ssize_t *res)
{
	struct uring_thread *t = uring_cur;
	struct fuse_out_header out;
	struct iovec iov[2];
	size_t got = 0;

	if (!t || t->replied || len < sizeof(out) ||
	    len - sizeof(out) > t->ur->payload_len)
		return false;
	iov[0] = (struct iovec){ .iov_base = &out, .iov_len = sizeof(out) };
	iov[1] = (struct iovec){ .iov_base = t->payload,
				 .iov_len = len - sizeof(out) };
	while (got < len) {
		ssize_t n = readv(fd, iov, 2);

		if (n <= 0) {
			*res = -1;
			if (n == 0)
				errno = EIO;
			return true;
		}
		got += (size_t)n;
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n :
								iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	if (out.unique != t->unique) {
		/* Not possible: libfuse splices only the reply to the request
		 * it processes. The pipe is drained: fail that reply. */
		errno = EPROTO;
		*res = -1;
		return true;
	}
	memcpy(t->hdr->in_out, &out, sizeof(out));
	t->hdr->ring_ent_in_out.payload_sz = (uint32_t)(len - sizeof(out));
	t->replied = true;
	*res = (ssize_t)len;
	return true;
}

static void uring_gate_open(void *arg)
{
	sem_post(arg);
}

static void uring_pace(struct strata_uring *ur)
{
	struct timespec until = ur->forgot;

	if (until.tv_sec == 0)
		return;
	until.tv_nsec += URING_FORGET_PACE_NS;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
	       EINTR)
		;
	ur->forgot.tv_sec = 0;
}

ssize_t strata__fuse_uring_read(struct strata_fuse *pf, int fd, void *buf,
				size_t len)
{
	struct strata_uring *ur = __atomic_load_n(&pf->uring, __ATOMIC_ACQUIRE);
	const struct fuse_in_header *in = buf;
	ssize_t n;

	if (!ur || !__atomic_load_n(&ur->serving, __ATOMIC_ACQUIRE))
		return read(fd, buf, len);
	/* libfuse cancels its workers in read() at the end: every wait here
	 * is a cancellation point, and a cancelled reader opens the gate. */
	while (sem_wait(&ur->gate) != 0)
		;
	pthread_cleanup_push(uring_gate_open, &ur->gate);
	uring_pace(ur);
	n = read(fd, buf, len);
	if (n >= (ssize_t)sizeof(*in) &&
	    (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET))
		clock_gettime(CLOCK_MONOTONIC, &ur->forgot);
	pthread_cleanup_pop(1);
	return n;
}

static int uring_possible_cpus(void)
{
	char buf[256];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	int n = -ENOENT;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			n = strata__fuse_uring_ncpus(buf);
		fclose(f);
	}
	return n > 0 ? n : get_nprocs_conf();
}

/* io_uring_enable_rings() is declared by liburing 2.3 but not exported. */
static int uring_enable(struct uring_thread *t)
{
	if (syscall(__NR_io_uring_register, t->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

static struct io_uring_sqe *uring_cmd_sqe(struct uring_thread *t, uint32_t op,
					  uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct strata_uring_cmd_req *req;

	if (!sqe)
		return NULL;
	memset(sqe, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = t->ur->pf->dev_fd;
	sqe->cmd_op = op;
	sqe->user_data = URING_CMD;
	req = (void *)sqe->cmd;
	req->commit_id = commit_id;
	req->qid = (uint16_t)t->qid;
	return sqe;
}

/* Give the kernel this thread's entry. A registration refused at once
 * (the kernel then keeps /dev/fuse for the mount) fails here. */
static int uring_register(struct uring_thread *t)
{
	struct io_uring_sqe *sqe =
		uring_cmd_sqe(t, STRATA_URING_CMD_REGISTER, 0);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	sqe->addr = (uint64_t)(uintptr_t)t->iov;
	sqe->len = 2;
	ret = io_uring_submit(&t->ring);
	if (ret < 0)
		return ret;
	/* A request may already have come (res 0): the loop takes it. */
	if (io_uring_peek_cqe(&t->ring, &cqe) == 0 &&
	    cqe->user_data == URING_CMD && cqe->res < 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		t->refused = true;
		return ret;
	}
	return 0;
}

/* A ring that cannot serve must still release the kernel, which holds
 * every request until each queue has an entry: a registration it refuses
 * (an iovec count of 0) turns the ring off for the mount. */
static void uring_refuse(struct uring_thread *t)
{
	struct io_uring_sqe *sqe;

	if (!t->ring_ok)
		return;
	sqe = uring_cmd_sqe(t, STRATA_URING_CMD_REGISTER, 0);
	if (sqe && io_uring_submit(&t->ring) >= 0)
		return;
	strata_log(STRATA_LOG_ERR, STRATA_SUB_FUSE,
		   "cannot turn FUSE over io_uring off: requests may hang");
}

static void uring_report(struct uring_thread *t, int err)
{
	struct strata_uring *ur = t->ur;

	pthread_mutex_lock(&ur->lock);
	ur->reported++;
	t->registered = err == 0;
	if (err == 0)
		ur->registered++;
	else if (ur->first_err == 0)
		ur->first_err = err;
	pthread_cond_broadcast(&ur->cond);
	pthread_mutex_unlock(&ur->lock);
}

static void uring_pin(struct uring_thread *t)
{
	cpu_set_t set;

	/* Not fatal: in a restricted cpuset the thread serves unpinned. */
	CPU_ZERO(&set);
	CPU_SET(t->qid, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		strata_debug(STRATA_SUB_FUSE,
			     "ring thread not pinned to cpu %u", t->qid);
}

/* Hand the request in the entry to libfuse and leave its reply there (an
 * EIO if libfuse gave none), ready to commit. */
static void uring_serve(struct uring_thread *t)
{
	struct strata_uring_ent_in_out *io = &t->hdr->ring_ent_in_out;
	uint64_t commit_id = io->commit_id;
	struct fuse_buf buf = { 0 };
	void *req;
	size_t len;

	t->replied = false;
	if (strata__fuse_uring_place(t->hdr, t->payload, t->ur->payload_len,
				     &req, &len) == 0) {
		t->unique = ((struct fuse_in_header *)req)->unique;
		buf.mem = req;
		buf.size = len;
		uring_cur = t;
		fuse_session_process_buf(t->ur->pf->se, &buf);
		uring_cur = NULL;
	}
	if (!t->replied) {
		struct fuse_out_header out = {
			.len = sizeof(out),
			.error = -EIO,
			.unique = commit_id,
		};

		memcpy(t->hdr->in_out, &out, sizeof(out));
		io->payload_sz = 0;
	}
}

/* True when a failed command means the session is over. */
static bool uring_gone(int res)
{
	return res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED ||
	       res == -ENODEV;
}

static void uring_loop(struct uring_thread *t)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		int res;

		res = io_uring_submit_and_wait(&t->ring, 1);
		if (res == -EINTR)
			continue;
		if (res < 0) {
			strata_log(STRATA_LOG_ERR, STRATA_SUB_FUSE,
				   "FUSE ring %u: %s", t->qid, strerror(-res));
			return;
		}
		if (io_uring_peek_cqe(&t->ring, &cqe) != 0)
			continue;
		res = cqe->res;
		if (cqe->user_data == URING_STOP) {
			io_uring_cqe_seen(&t->ring, cqe);
			return;
		}
		io_uring_cqe_seen(&t->ring, cqe);
		if (res < 0) {
			if (!uring_gone(res))
				strata_log(STRATA_LOG_ERR, STRATA_SUB_FUSE,
					   "FUSE ring %u: command failed: %s",
					   t->qid, strerror(-res));
			return;
		}
		uring_serve(t);
		if (!uring_cmd_sqe(t, STRATA_URING_CMD_COMMIT_AND_FETCH,
				   t->hdr->ring_ent_in_out.commit_id))
			return; /* not possible: the only SQE is consumed */
	}
}

static void *uring_main(void *arg)
{
	struct uring_thread *t = arg;
	struct io_uring_sqe *sqe;
	int ret = 0;

	uring_pin(t);
	if (t->disabled)
		ret = uring_enable(t);
	if (ret == 0) {
		/* The stop signal: a poll on the eventfd. */
		sqe = io_uring_get_sqe(&t->ring);
		if (!sqe) {
			ret = -EBUSY;
		} else {
			io_uring_prep_poll_add(sqe, t->ur->stop_fd, POLLIN);
			sqe->user_data = URING_STOP;
			ret = uring_register(t);
		}
	}
	if (ret < 0 && !t->refused)
		uring_refuse(t);
	uring_report(t, ret);
	if (ret == 0)
		uring_loop(t);
	return NULL;
}

static void uring_free(struct strata_uring *ur)
{
	if (!ur)
		return;
	for (unsigned int i = 0; i < ur->nthreads; i++) {
		struct uring_thread *t = &ur->th[i];

		if (t->ring_ok)
			io_uring_queue_exit(&t->ring);
		if (t->mem)
			munmap(t->mem, URING_HEAD + ur->payload_len);
	}
	if (ur->stop_fd >= 0)
		close(ur->stop_fd);
	sem_destroy(&ur->gate);
	pthread_mutex_destroy(&ur->lock);
	pthread_cond_destroy(&ur->cond);
	free(ur);
}

static int uring_ring_init(struct uring_thread *t)
{
	struct io_uring_params p = { 0 };
	int ret;

	/* Four SQEs: the command, the stop poll, room to spare. The thread
	 * that enables the ring is its only submitter; task work (the
	 * kernel's copy of a request into the entry) runs when it waits. */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_R_DISABLED |
		  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN;
	ret = io_uring_queue_init_params(4, &t->ring, &p);
	t->disabled = ret == 0;
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		ret = io_uring_queue_init_params(4, &t->ring, &p);
	}
	t->ring_ok = ret == 0;
	return ret;
}

static int uring_thread_init(struct strata_uring *ur, struct uring_thread *t,
			     unsigned int qid)
{
	void *mem;

	t->ur = ur;
	t->qid = qid;
	mem = mmap(NULL, URING_HEAD + ur->payload_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	t->mem = mem;
	t->hdr = mem;
	t->payload = t->mem + URING_HEAD;
	t->iov[0] = (struct iovec){ .iov_base = t->hdr,
				    .iov_len = sizeof(*t->hdr) };
	t->iov[1] = (struct iovec){ .iov_base = t->payload,
				    .iov_len = ur->payload_len };
	return uring_ring_init(t);
}

int strata__fuse_uring_prepare(struct strata_fuse *pf, uint32_t flags,
			       uint32_t max_write, uint16_t max_pages)
{
	struct strata_uring *ur = NULL;
	int ncpu = uring_possible_cpus();
	unsigned int n;
	int ret;

	if (ncpu <= 0 || ncpu > UINT16_MAX) {
		ret = -ENOTSUP;
		goto out;
	}
	n = (unsigned int)ncpu * URING_PER_QUEUE;
	ur = calloc(1, sizeof(*ur) + n * sizeof(ur->th[0]));
	if (!ur) {
		ret = -ENOMEM;
		goto out;
	}
	ur->pf = pf;
	ur->nqueues = (unsigned int)ncpu;
	ur->stop_fd = -1;
	ur->payload_len = strata__fuse_uring_payload_size(
		flags, max_write, max_pages, (size_t)sysconf(_SC_PAGESIZE));
	pthread_mutex_init(&ur->lock, NULL);
	pthread_cond_init(&ur->cond, NULL);
	sem_init(&ur->gate, 0, 1);
	ur->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ur->stop_fd < 0) {
		ret = -errno;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		ur->nthreads = i + 1;
		ret = uring_thread_init(ur, &ur->th[i], i / URING_PER_QUEUE);
		if (ret < 0)
			goto out;
	}
	__atomic_store_n(&pf->uring, ur, __ATOMIC_RELEASE);
	ur = NULL;
	ret = 0;
out:
	if (ret < 0)
		strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
			   "FUSE over io_uring: not used (cannot set up the "
			   "rings: %s): requests go through /dev/fuse",
			   strerror(-ret));
	uring_free(ur);
	return ret;
}

static void uring_wait_reports(struct strata_uring *ur, unsigned int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += URING_START_WAIT_S;
	pthread_mutex_lock(&ur->lock);
	while (ur->reported < n) {
		if (pthread_cond_timedwait(&ur->cond, &ur->lock, &until) ==
		    ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ur->lock);
}

/* The kernel serves through the rings once every queue has an entry.
 * Called with ur->lock held. */
static bool uring_ready(const struct strata_uring *ur)
{
	for (unsigned int q = 0; q < ur->nqueues; q++) {
		bool any = false;

		for (unsigned int i = 0; i < URING_PER_QUEUE; i++)
			any |= ur->th[q * URING_PER_QUEUE + i].registered;
		if (!any)
			return false;
	}
	return true;
}

void strata__fuse_uring_start(struct strata_fuse *pf)
{
	struct strata_uring *ur = pf->uring;
	unsigned int started = 0;

	if (!ur)
		return;
	for (unsigned int i = 0; i < ur->nthreads; i++) {
		struct uring_thread *t = &ur->th[i];

		if (pthread_create(&t->tid, NULL, uring_main, t) != 0) {
			if (t->disabled && uring_enable(t) < 0)
				t->ring_ok = false;
			uring_refuse(t);
			continue;
		}
		t->started = true;
		started++;
	}
	uring_wait_reports(ur, started);
	pthread_mutex_lock(&ur->lock);
	__atomic_store_n(&ur->serving, uring_ready(ur), __ATOMIC_RELEASE);
	if (ur->serving)
		strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
			   "FUSE over io_uring: %u queues x %u threads%s",
			   ur->nqueues, URING_PER_QUEUE,
			   ur->registered < ur->nthreads ?
				   " (some entries refused)" :
				   "");
	else
		strata_log(
			STRATA_LOG_INFO, STRATA_SUB_FUSE,
			"FUSE over io_uring: not used (%u of %u ring entries "
			"registered: %s): requests go through /dev/fuse",
			ur->registered, ur->nthreads,
			strerror(ur->first_err ? -ur->first_err : EAGAIN));
	pthread_mutex_unlock(&ur->lock);
}

void strata__fuse_uring_stop(struct strata_fuse *pf)
{
	struct strata_uring *ur = pf->uring;
	uint64_t one = 1;

	if (!ur)
		return;
	if (write(ur->stop_fd, &one, sizeof(one)) != sizeof(one))
		strata_log(STRATA_LOG_ERR, STRATA_SUB_FUSE,
			   "cannot stop the FUSE rings: %s", strerror(errno));
	for (unsigned int i = 0; i < ur->nthreads; i++) {
		if (ur->th[i].started)
			pthread_join(ur->th[i].tid, NULL);
	}
	uring_free(ur);
	pf->uring = NULL;
}
