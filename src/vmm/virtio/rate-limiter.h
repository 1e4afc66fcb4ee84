/* Token buckets for device I/O (Firecracker's RateLimiter): one bucket for
 * bytes, one for operations, each configured by a vm_token_bucket.
 *
 * Tokens refill continuously (SIZE tokens per REFILL_TIME_MS, never more
 * than SIZE in the bucket), plus ONE_TIME_BURST tokens spent first.  A
 * request bigger than the whole bucket is let through when the bucket is
 * full, so a large request is slowed down, never refused forever.
 *
 * A device asks rate_limiter_consume() before each request.  When it says
 * no, the device stops processing (puts the chain back with virtq_unpop)
 * and calls rate_limiter_block(), which arms a one-shot event-loop timer
 * for when enough tokens will be there; its callback resumes the device.
 * Loop thread only. */
#ifndef BERTH_VMM_VIRTIO_RATE_LIMITER_H
#define BERTH_VMM_VIRTIO_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/evloop.h"
#include "vmm/vm-config.h"

struct token_bucket {
  uint64_t size;       /* 0: unlimited */
  uint64_t refill_ms;
  uint64_t burst;      /* one-time burst left */
  uint64_t budget;     /* tokens now */
  uint64_t last_ns;    /* CLOCK_MONOTONIC of the last refill */
};

struct rate_limiter {
  struct token_bucket bytes, ops;
  int timer_fd; /* -1 unless blocked */
  struct evloop *loop;
  evloop_fn resume;
  void *opaque;
};

/* RESUME(OPAQUE) runs on the loop when a blocked limiter has tokens. */
void rate_limiter_init (struct rate_limiter *rl, const struct vm_rate_limiter *cfg, struct evloop *loop,
                        evloop_fn resume, void *opaque);
/* Take BYTES and OPS tokens if both buckets have them; false (nothing
 * taken) otherwise, or while blocked. */
bool rate_limiter_consume (struct rate_limiter *rl, uint64_t bytes, uint64_t ops);
/* Take tokens unconditionally (a cost known only afterwards, like the
 * size of a received frame); an empty bucket stays at zero. */
void rate_limiter_charge (struct rate_limiter *rl, uint64_t bytes, uint64_t ops);
/* Arm the resume timer for a request of BYTES and OPS (no-op if armed). */
int rate_limiter_block (struct rate_limiter *rl, uint64_t bytes, uint64_t ops);
bool rate_limiter_blocked (const struct rate_limiter *rl);
/* Cancel the timer (device reset, destroy). */
void rate_limiter_stop (struct rate_limiter *rl);

#endif
