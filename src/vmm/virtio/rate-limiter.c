/* Token-bucket rate limiter (see rate-limiter.h). */
#include "vmm/virtio/rate-limiter.h"

#include <time.h>

static uint64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void bucket_init (struct token_bucket *b, const struct vm_token_bucket *cfg)
{
  b->size = cfg->refill_time_ms ? cfg->size : 0; /* no refill time: unlimited */
  b->refill_ms = cfg->refill_time_ms;
  b->burst = cfg->one_time_burst;
  b->budget = b->size;
  b->last_ns = now_ns ();
}

static void refill (struct token_bucket *b)
{
  uint64_t now = now_ns ();
  uint64_t elapsed = now - b->last_ns;
  /* SIZE tokens per REFILL_MS; computed in 128 bits, no overflow. */
  unsigned __int128 add = (unsigned __int128) elapsed * b->size / ((unsigned __int128) b->refill_ms * 1000000ULL);
  if (add == 0)
    return;
  b->last_ns = now;
  b->budget = add >= b->size - b->budget ? b->size : b->budget + (uint64_t) add;
}

static bool bucket_has (struct token_bucket *b, uint64_t n)
{
  if (b->size == 0 || n == 0)
    return true;
  refill (b);
  if (n <= b->burst + b->budget)
    return true;
  return b->budget == b->size; /* bigger than the bucket: when full */
}

static void bucket_take (struct token_bucket *b, uint64_t n)
{
  if (b->size == 0)
    return;
  uint64_t from_burst = n < b->burst ? n : b->burst;
  b->burst -= from_burst;
  n -= from_burst;
  b->budget = n >= b->budget ? 0 : b->budget - n;
}

/* Milliseconds until the bucket can serve N tokens. */
static uint64_t bucket_wait_ms (const struct token_bucket *b, uint64_t n)
{
  if (b->size == 0 || n <= b->burst + b->budget)
    return 0;
  uint64_t need = n - b->burst > b->size ? b->size : n - b->burst;
  need -= need < b->budget ? need : b->budget;
  uint64_t ms = (need * b->refill_ms + b->size - 1) / b->size;
  return ms ? ms : 1;
}

void rate_limiter_init (struct rate_limiter *rl, const struct vm_rate_limiter *cfg, struct evloop *loop,
                        evloop_fn resume, void *opaque)
{
  bucket_init (&rl->bytes, &cfg->bandwidth);
  bucket_init (&rl->ops, &cfg->ops);
  rl->timer_fd = -1;
  rl->loop = loop;
  rl->resume = resume;
  rl->opaque = opaque;
}

bool rate_limiter_blocked (const struct rate_limiter *rl)
{
  return rl->timer_fd >= 0;
}

bool rate_limiter_consume (struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
  if (rate_limiter_blocked (rl) || !bucket_has (&rl->bytes, bytes) || !bucket_has (&rl->ops, ops))
    return false;
  bucket_take (&rl->bytes, bytes);
  bucket_take (&rl->ops, ops);
  return true;
}

void rate_limiter_charge (struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
  bucket_take (&rl->bytes, bytes);
  bucket_take (&rl->ops, ops);
}

static void on_timer (void *opaque, uint32_t events)
{
  struct rate_limiter *rl = opaque;
  rate_limiter_stop (rl);
  rl->resume (rl->opaque, 0);
}

int rate_limiter_block (struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
  if (rate_limiter_blocked (rl) || rl->loop == NULL)
    return 0;
  uint64_t a = bucket_wait_ms (&rl->bytes, bytes), b = bucket_wait_ms (&rl->ops, ops);
  int fd = evloop_timer_add (rl->loop, a > b ? a : b, 0, on_timer, rl);
  if (fd < 0)
    return fd;
  rl->timer_fd = fd;
  return 0;
}

void rate_limiter_stop (struct rate_limiter *rl)
{
  if (rl->timer_fd >= 0)
    evloop_timer_del (rl->loop, rl->timer_fd);
  rl->timer_fd = -1;
}
