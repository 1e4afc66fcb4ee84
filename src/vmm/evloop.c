#include "vmm/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/cleanup.h"

/* Handlers are kept in an array indexed by fd.  Each registration gets a
 * generation number that travels in the epoll event, so an event for an fd
 * deleted (and maybe reused) earlier in the same batch is recognised and
 * dropped. */
struct handler {
  evloop_fn fn;
  void *opaque;
  uint32_t gen; /* 0: free slot */
  bool is_timer;
};

struct call {
  evloop_fn fn;
  void *opaque;
  bool done;
  struct call *next;
};

struct evloop {
  int epfd;
  int wake_fd; /* eventfd: evloop_call and evloop_stop */
  struct handler *h;
  size_t nh;
  uint32_t next_gen;
  pthread_t thread;
  bool running;
  bool stop;
  pthread_mutex_t lock; /* calls and stop */
  pthread_cond_t cond;
  struct call *calls;
};

static int grow (struct evloop *l, int fd)
{
  if ((size_t) fd < l->nh)
    return 0;
  size_t n = l->nh ? l->nh : 64;
  while (n <= (size_t) fd)
    n *= 2;
  struct handler *h = realloc (l->h, n * sizeof *h);
  if (h == NULL)
    return -ENOMEM;
  memset (h + l->nh, 0, (n - l->nh) * sizeof *h);
  l->h = h;
  l->nh = n;
  return 0;
}

static int watch (struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque, bool is_timer)
{
  if (fd < 0 || grow (l, fd) < 0)
    return fd < 0 ? -EBADF : -ENOMEM;
  if (l->h[fd].gen)
    return -EEXIST;
  uint32_t gen = ++l->next_gen ? l->next_gen : ++l->next_gen;
  struct epoll_event ev = { .events = events, .data.u64 = (uint64_t) gen << 32 | (uint32_t) fd };
  if (epoll_ctl (l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    return -errno;
  l->h[fd] = (struct handler) { .fn = fn, .opaque = opaque, .gen = gen, .is_timer = is_timer };
  return 0;
}

int evloop_add (struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
  return watch (l, fd, events, fn, opaque, false);
}

int evloop_mod (struct evloop *l, int fd, uint32_t events)
{
  if (fd < 0 || (size_t) fd >= l->nh || l->h[fd].gen == 0)
    return -ENOENT;
  struct epoll_event ev = { .events = events, .data.u64 = (uint64_t) l->h[fd].gen << 32 | (uint32_t) fd };
  return epoll_ctl (l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del (struct evloop *l, int fd)
{
  if (fd < 0 || (size_t) fd >= l->nh || l->h[fd].gen == 0)
    return -ENOENT;
  l->h[fd].gen = 0;
  return epoll_ctl (l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

/* A timer's callback first consumes the expiration count, so a level-
 * triggered timerfd does not fire again at once. */
static void drain_timer (int fd)
{
  uint64_t n;
  (void) !read (fd, &n, sizeof n);
}

int evloop_timer_add (struct evloop *l, uint64_t first_ms, uint64_t period_ms, evloop_fn fn, void *opaque)
{
  cleanup_close int tfd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0)
    return -errno;
  if (first_ms == 0)
    first_ms = 1; /* 0 would disarm the timer */
  struct itimerspec its = {
    .it_value = { .tv_sec = first_ms / 1000, .tv_nsec = (first_ms % 1000) * 1000000 },
    .it_interval = { .tv_sec = period_ms / 1000, .tv_nsec = (period_ms % 1000) * 1000000 },
  };
  if (timerfd_settime (tfd, 0, &its, NULL) < 0)
    return -errno;
  int r = watch (l, tfd, EPOLLIN, fn, opaque, true);
  return r < 0 ? r : take_fd (&tfd);
}

int evloop_timer_del (struct evloop *l, int tfd)
{
  int r = evloop_del (l, tfd);
  if (r == 0)
    close (tfd);
  return r;
}

static void run_calls (struct evloop *l)
{
  uint64_t n;
  (void) !read (l->wake_fd, &n, sizeof n);
  pthread_mutex_lock (&l->lock);
  struct call *c = l->calls;
  l->calls = NULL;
  pthread_mutex_unlock (&l->lock);
  while (c)
    {
      struct call *next = c->next;
      c->fn (c->opaque, 0);
      pthread_mutex_lock (&l->lock);
      c->done = true; /* C lives on the caller's stack: not touched after */
      pthread_cond_broadcast (&l->cond);
      pthread_mutex_unlock (&l->lock);
      c = next;
    }
}

int evloop_call (struct evloop *l, evloop_fn fn, void *opaque)
{
  if (!l->running || pthread_equal (pthread_self (), l->thread))
    {
      fn (opaque, 0);
      return 0;
    }
  struct call c = { .fn = fn, .opaque = opaque };
  pthread_mutex_lock (&l->lock);
  c.next = l->calls;
  l->calls = &c;
  pthread_mutex_unlock (&l->lock);
  uint64_t one = 1;
  if (write (l->wake_fd, &one, sizeof one) < 0)
    return -errno;
  pthread_mutex_lock (&l->lock);
  while (!c.done)
    pthread_cond_wait (&l->cond, &l->lock);
  pthread_mutex_unlock (&l->lock);
  return 0;
}

void evloop_stop (struct evloop *l)
{
  pthread_mutex_lock (&l->lock);
  l->stop = true;
  pthread_mutex_unlock (&l->lock);
  uint64_t one = 1;
  (void) !write (l->wake_fd, &one, sizeof one);
}

static bool stopping (struct evloop *l)
{
  pthread_mutex_lock (&l->lock);
  bool s = l->stop;
  pthread_mutex_unlock (&l->lock);
  return s;
}

static void dispatch (struct evloop *l, const struct epoll_event *ev)
{
  int fd = (int) (uint32_t) ev->data.u64;
  uint32_t gen = (uint32_t) (ev->data.u64 >> 32);
  if (fd == l->wake_fd)
    {
      run_calls (l);
      return;
    }
  if ((size_t) fd >= l->nh || l->h[fd].gen != gen)
    return; /* deleted earlier in this batch */
  struct handler h = l->h[fd];
  if (h.is_timer)
    drain_timer (fd);
  h.fn (h.opaque, ev->events);
}

int evloop_run (struct evloop *l)
{
  l->thread = pthread_self ();
  l->running = true;
  int r = 0;
  while (!stopping (l))
    {
      struct epoll_event evs[32];
      int n = epoll_wait (l->epfd, evs, 32, -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          r = -errno;
          break;
        }
      for (int i = 0; i < n; i++)
        dispatch (l, &evs[i]);
    }
  l->running = false;
  /* Answer calls that raced with the stop so their callers do not hang. */
  run_calls (l);
  return r;
}

int evloop_new (struct evloop **out, berth_err *err)
{
  cleanup_free struct evloop *l = calloc (1, sizeof *l);
  if (l == NULL)
    return berth_fail (err, ENOMEM, "event loop");
  l->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (l->epfd < 0)
    return berth_fail_errno (err, "epoll_create1");
  l->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint32_t) l->wake_fd };
  if (l->wake_fd < 0 || epoll_ctl (l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
    {
      int e = errno;
      close (l->epfd);
      if (l->wake_fd >= 0)
        close (l->wake_fd);
      return berth_fail (err, e, "event loop wake-up fd");
    }
  pthread_mutex_init (&l->lock, NULL);
  pthread_cond_init (&l->cond, NULL);
  *out = take_ptr (l);
  return 0;
}

void evloop_free (struct evloop *l)
{
  if (l == NULL)
    return;
  for (size_t fd = 0; fd < l->nh; fd++)
    if (l->h[fd].gen && l->h[fd].is_timer)
      close ((int) fd);
  close (l->epfd);
  close (l->wake_fd);
  pthread_mutex_destroy (&l->lock);
  pthread_cond_destroy (&l->cond);
  free (l->h);
  free (l);
}
